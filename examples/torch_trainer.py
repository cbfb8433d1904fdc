#!/usr/bin/env python3
"""A tiny PyTorch trainer that speaks sparselaw's trainer protocol.

A byte-level GPT (width, layers, heads) trained for a number of tokens on a
text file, with gradual magnitude pruning of its block weights to a target
sparsity (unstructured, per matrix) or to an n:m pattern (n of every m
consecutive input weights kept). It writes JSON lines on stdout: start,
progress, and a final result with the point the fitter needs (sparsity,
non-zeros, tokens, validation loss in nats per byte). On the CPU by default;
with --devices N (N > 0) on CUDA, which it refuses with an error event when
this PyTorch has none. SIGTERM stops it after the current step with an
"interrupted" result. Declare it as a trainer profile (README.md, "Bring your
own trainer"):

    argv = /usr/bin/python3 /path/examples/torch_trainer.py --width={width}
           --layers={layers} --heads={heads} --sparsity={sparsity}
           --pattern={pattern_n}:{pattern_m} --tokens={tokens} --seed={seed}
           --threads={threads} --devices={devices} --corpus=/path/corpus.txt

(one line). Prunable weights are 12 x layers x width^2, as sparselaw-train
counts them, so its N and this one's mean the same.
"""
import argparse
import json
import math
import signal
import sys
import time

stop = []


def emit(event, **fields):
    sys.stdout.write(json.dumps(dict(event=event, **fields), separators=(",", ":")) + "\n")
    sys.stdout.flush()


def refuse(code, message):
    emit("error", code=code, message=message)
    return 2


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--sparsity", type=float, default=0.0)
    ap.add_argument("--pattern", default="0:0", help="n:m, or 0:0 for unstructured")
    ap.add_argument("--tokens", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--devices", type=int, default=0, help="CUDA devices (0: the CPU)")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--context", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--val-tokens", type=int, default=8192)
    ap.add_argument("--prune-start", type=float, default=0.25)
    ap.add_argument("--prune-end", type=float, default=0.75)
    return ap.parse_args()


def main():
    a = parse()
    signal.signal(signal.SIGTERM, lambda sig, frame: stop.append("SIGTERM"))
    try:
        n, m = (int(x) for x in a.pattern.split(":"))
    except ValueError:
        return refuse("options", "--pattern must be n:m")
    if m and not 0 < n < m:
        return refuse("options", "--pattern n:m needs 0 < n < m")
    if a.width % a.heads or (m and a.width % m) or not 0 <= a.sparsity < 1:
        return refuse("options", "heads must divide width, m must divide width, sparsity in [0, 1)")
    target = 1.0 - n / m if m else a.sparsity

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(max(1, a.threads))
    if a.devices > 0 and not torch.cuda.is_available():
        return refuse("device", "--devices %d: this PyTorch sees no CUDA device" % a.devices)
    device = torch.device("cuda" if a.devices > 0 else "cpu")
    torch.manual_seed(a.seed)
    try:
        with open(a.corpus, "rb") as f:
            text = f.read()
    except OSError as e:
        return refuse("corpus", "cannot read %s: %s" % (a.corpus, e))
    data = torch.tensor(list(text), dtype=torch.long)
    split = int(len(data) * 0.9)
    train, val = data[:split], data[split:]
    T, B, W = a.context, a.batch, a.width
    if len(train) <= T + 1 or len(val) <= T + 1:
        return refuse("corpus", "the corpus is too small for context %d" % T)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(W), nn.LayerNorm(W)
            self.qkv = nn.Linear(W, 3 * W, bias=False)
            self.proj = nn.Linear(W, W, bias=False)
            self.fc = nn.Linear(W, 4 * W, bias=False)
            self.fc2 = nn.Linear(4 * W, W, bias=False)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(W, dim=2)
            q, k, v = (y.view(b, t, a.heads, W // a.heads).transpose(1, 2) for y in (q, k, v))
            att = (q @ k.transpose(-2, -1)) / math.sqrt(W // a.heads)
            att = att.masked_fill(mask[:t, :t], float("-inf")).softmax(-1)
            x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, W))
            return x + self.fc2(F.gelu(self.fc(self.ln2(x))))

    mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=device), 1)
    model = nn.ModuleDict(dict(
        tok=nn.Embedding(256, W), pos=nn.Embedding(T, W),
        blocks=nn.ModuleList(Block() for _ in range(a.layers)),
        ln=nn.LayerNorm(W), head=nn.Linear(W, 256, bias=False))).to(device)

    def forward(x):
        h = model["tok"](x) + model["pos"](torch.arange(x.shape[1], device=device))
        for blk in model["blocks"]:
            h = blk(h)
        return model["head"](model["ln"](h))

    prunable = [getattr(blk, name).weight for blk in model["blocks"]
                for name in ("qkv", "proj", "fc", "fc2")]
    masks = [torch.ones_like(w, dtype=torch.bool) for w in prunable]
    n_prunable = sum(w.numel() for w in prunable)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.0)

    def prune(level):
        """Masks of the block weights at sparsity level (or the n:m pattern)."""
        with torch.no_grad():
            for i, w in enumerate(prunable):
                if m:
                    g = w.abs().view(w.shape[0], -1, m)
                    keep = torch.zeros_like(g, dtype=torch.bool)
                    keep.scatter_(2, g.topk(n, dim=2).indices, True)
                    masks[i] = keep.view_as(w)
                else:
                    k = int(round(level * w.numel()))
                    masks[i] = torch.ones_like(w, dtype=torch.bool)
                    if k > 0:
                        cut = w.abs().flatten().kthvalue(k).values
                        masks[i] = w.abs() > cut
                w.mul_(masks[i])

    gen = torch.Generator().manual_seed(a.seed)

    def batch():
        ix = torch.randint(len(train) - T - 1, (B,), generator=gen)
        x = torch.stack([train[i:i + T] for i in ix])
        y = torch.stack([train[i + 1:i + T + 1] for i in ix])
        return x.to(device), y.to(device)

    def evaluate():
        windows = max(1, min(a.val_tokens, len(val) - 1) // T)
        losses = []
        with torch.no_grad():
            for s in range(0, windows, B):
                ix = range(s * T, min(windows, s + B) * T, T)
                x = torch.stack([val[i:i + T] for i in ix]).to(device)
                y = torch.stack([val[i + 1:i + T + 1] for i in ix]).to(device)
                losses.append(F.cross_entropy(forward(x).view(-1, 256), y.view(-1)).item())
        return sum(losses) / len(losses)

    steps = max(1, math.ceil(a.tokens / (B * T)))
    t0s, t1s = int(a.prune_start * steps), max(int(a.prune_start * steps) + 1, int(a.prune_end * steps))
    every = max(1, steps // 50)
    log_every = max(1, steps // 10)
    emit("start", trainer="torch_trainer", torch=torch.__version__, device=str(device),
         width=W, layers=a.layers, heads=a.heads, pattern=a.pattern if m else "unstructured",
         sparsity_target=target, steps=steps, tokens=steps * B * T, seed=a.seed,
         prunable_params=n_prunable, total_params=sum(p.numel() for p in model.parameters()))
    start = time.monotonic()
    train_s, loss_sum, loss_n, step, status, val_loss = 0.0, 0.0, 0, 0, "completed", float("nan")
    train_loss = float("nan")
    for step in range(1, steps + 1):
        if stop:
            status, step = "interrupted", step - 1
            break
        t = time.monotonic()
        x, y = batch()
        loss = F.cross_entropy(forward(x).view(-1, 256), y.view(-1))
        if not math.isfinite(loss.item()):
            status, step = "diverged", step - 1
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if target > 0 and step >= t0s and (step % every == 0 or step >= t1s):
            frac = min(1.0, (step - t0s) / (t1s - t0s))
            prune(target * (1 - (1 - frac) ** 3))
        else:
            with torch.no_grad():
                for w, mk in zip(prunable, masks):
                    w.mul_(mk)
        train_s += time.monotonic() - t
        loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
        if step % log_every == 0 or step == steps:
            train_loss, loss_sum, loss_n = loss_sum / loss_n, 0.0, 0
            fields = {}
            if step == steps:
                val_loss = evaluate()
                fields["val_loss"] = val_loss
            nz = sum(int(mk.sum()) for mk in masks)
            emit("progress", step=step, steps=steps, tokens=step * B * T, train_loss=train_loss,
                 sparsity=1 - nz / n_prunable, nonzeros=nz,
                 tokens_per_s=step * B * T / train_s if train_s > 0 else 0.0,
                 elapsed_s=time.monotonic() - start, **fields)
    if status == "interrupted" and step > 0:
        val_loss = evaluate()
    nz = sum(int(mk.sum()) for mk in masks)
    result = dict(status=status, step=step, steps=steps, tokens=step * B * T,
                  train_loss=train_loss, sparsity=1 - nz / n_prunable, nonzeros=nz,
                  prunable_params=n_prunable, pattern=a.pattern if m else "unstructured",
                  layers=a.layers, width=W, seed=a.seed, device=str(device),
                  seconds=time.monotonic() - start, train_seconds=train_s,
                  tokens_per_s=step * B * T / train_s if train_s > 0 else 0.0)
    if status == "interrupted":
        result["signal"] = stop[0]
    if status != "diverged":
        result["val_loss"] = val_loss
    emit("result", **result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
