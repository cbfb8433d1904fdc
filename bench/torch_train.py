#!/usr/bin/python3
"""The PyTorch anchor for bench/train_bench.sh.

The same byte-level GPT as sparselaw-train (vocabulary 256, learned
positions, pre-LayerNorm, causal multi-head attention, tanh-GELU MLP 4x, tied
input/output embedding, GPT-2 initialisation), trained the same way (random
windows from the first 90 % of the corpus, AdamW (0.9, 0.95), gradient norm
clipped at 1, warmup + cosine learning rate). It times training steps for
every thread count asked for and prints one JSON line per count:

    {"impl": "torch", "threads": 2, "tokens_per_s": ..., "steps": ..., ...}

--device cuda (for bench/gpu_check.sh) trains on one GPU in its best plain
setting: BF16 autocast (--precision bf16, FP32 master weights as
sparselaw-train keeps them), fused AdamW, and PyTorch's fused causal
attention (scaled_dot_product_attention) where the version has it;
--compile adds torch.compile. Steps are timed between CUDA synchronisations.

Run with Debian's interpreter (/usr/bin/python3), where python3-torch lives.
"""
import argparse
import contextlib
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, width, heads, context, sdpa=False):
        super().__init__()
        self.heads = heads
        self.sdpa = sdpa
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.fcproj = nn.Linear(4 * width, width)
        mask = torch.tril(torch.ones(context, context, dtype=torch.bool))
        self.register_buffer("mask", mask.view(1, 1, context, context))

    def forward(self, x):
        b, t, c = x.shape
        hs = c // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q = q.view(b, t, self.heads, hs).transpose(1, 2)
        k = k.view(b, t, self.heads, hs).transpose(1, 2)
        v = v.view(b, t, self.heads, hs).transpose(1, 2)
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
            att = att.masked_fill(~self.mask[:, :, :t, :t], float("-inf"))
            att = F.softmax(att, dim=-1)
            y = att @ v
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.proj(y)
        x = x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return x


class GPT(nn.Module):
    def __init__(self, layers, width, heads, context, sdpa=False):
        super().__init__()
        self.wte = nn.Embedding(256, width)
        self.wpe = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads, context, sdpa) for _ in range(layers))
        self.lnf = nn.LayerNorm(width)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "ln" in name:
                nn.init.ones_(p)
            elif name.endswith("proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))
            elif name == "wpe.weight":
                nn.init.normal_(p, std=0.01)
            else:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe.weight[:t]
        for blk in self.blocks:
            x = blk(x)
        logits = F.linear(self.lnf(x), self.wte.weight)
        return F.cross_entropy(logits.view(-1, 256), targets.reshape(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--width", type=int, default=96)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=200, help="timed steps")
    ap.add_argument("--warmup-steps", type=int, default=20, help="untimed steps first")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--precision", choices=("fp32", "tf32", "bf16"), default=None,
                    help="matmuls on cuda (default bf16 autocast); the CPU runs fp32")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (cuda)")
    a = ap.parse_args()
    cuda = a.device == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("torch_train.py: --device cuda, but torch %s sees no GPU" % torch.__version__)
    precision = a.precision or ("bf16" if cuda else "fp32")
    if not cuda and precision != "fp32":
        sys.exit("torch_train.py: --precision %s needs --device cuda" % precision)
    dev = torch.device(a.device)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision == "tf32"
    sdpa = cuda and hasattr(F, "scaled_dot_product_attention")

    data = torch.frombuffer(bytearray(open(a.corpus, "rb").read()), dtype=torch.uint8)
    train = data[: len(data) * 9 // 10].long()
    total = a.warmup_steps + a.steps
    for threads in (int(x) for x in a.threads.split(",")):
        torch.set_num_threads(threads)
        torch.manual_seed(a.seed)
        model = GPT(a.layers, a.width, a.heads, a.context, sdpa).to(dev)
        step_model = torch.compile(model) if a.compile else model
        extra = {"fused": True} if cuda else {"foreach": True}
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), eps=1e-8,
                                weight_decay=0.0, **extra)
        gen = torch.Generator().manual_seed(a.seed)
        offs = torch.arange(a.context + 1)
        t0 = None
        loss = None
        for step in range(total):
            if step == a.warmup_steps:
                if cuda:
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
            warm = max(1, round(0.05 * total))
            lr = a.lr * min(1.0, (step + 1) / warm)
            if step >= warm:
                p = (step - warm) / max(1, total - warm - 1)
                lr = 0.1 * a.lr + 0.45 * a.lr * (1 + math.cos(math.pi * p))
            for g in opt.param_groups:
                g["lr"] = lr
            starts = torch.randint(0, len(train) - a.context, (a.batch,), generator=gen)
            win = train[starts[:, None] + offs].to(dev, non_blocking=True)
            with (torch.autocast("cuda", dtype=torch.bfloat16) if precision == "bf16"
                  else contextlib.nullcontext()):
                loss = step_model(win[:, :-1], win[:, 1:])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        tokens = a.steps * a.batch * a.context
        gpu = {}
        if cuda:
            gpu = {"gpu_name": torch.cuda.get_device_name(0),
                   "gpu_peak_memory_bytes": torch.cuda.max_memory_allocated(),
                   "sdpa": sdpa, "compile": a.compile}
        print(json.dumps({"impl": "torch", "torch": torch.__version__, "threads": threads,
                          "device": a.device, "precision": precision, **gpu,
                          "step_seconds": dt / a.steps,
                          "layers": a.layers, "width": a.width, "heads": a.heads,
                          "context": a.context, "batch": a.batch, "steps": a.steps,
                          "total_params": sum(p.numel() for p in model.parameters()),
                          "tokens_per_s": tokens / dt, "loss": float(loss)}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
