#!/usr/bin/env python3
"""A synthetic trainer: the loss of a known sparse scaling law plus seeded noise.

It speaks sparselaw's trainer protocol (JSON lines on stdout: start, progress,
result) without training anything, so a sweep -> dataset -> fit round trip
takes seconds and its fit can be checked against the coefficients it started
from. Declare it as a trainer profile in sparselawd's --config:

    [profile synthetic]
    argv = /usr/bin/python3 /path/to/examples/synthetic_trainer.py --width={width}
           --layers={layers} --sparsity={sparsity} --tokens={tokens} --seed={seed}

(one line). N is the prunable weights left, (1 - S) x 12 x layers x width^2,
as sparselaw-train counts them; D is the tokens. The loss is

    L(S, N, D) = (a_s (1 - S)^b_s + c_s) N^(-b_n) + (a_d / D)^b_d + c

times exp(noise x z), z a standard normal drawn from the run's seed and point,
so the same run always reports the same loss. An n:m run (--pattern={pattern_n}:{pattern_m})
takes a_s times its pattern's factor from --pattern-eta (1 when none is given): the
pattern factors a fit with "pattern_factors": true estimates.
"""
import argparse
import json
import math
import random
import signal
import sys
import time

# T5 on C4 (Frantar et al., ICLR 2024), the server's built-in t5-c4 law.
DEFAULT_LAW = "16.7870501071,0.72161276,45.0184473511,0.24513173,689991261.918,0.20270772,0.65074219"
NAMES = ("a_s", "b_s", "c_s", "b_n", "a_d", "b_d", "c")

stop = []


def emit(event, **fields):
    sys.stdout.write(json.dumps(dict(event=event, **fields), separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--sparsity", type=float, required=True)
    ap.add_argument("--tokens", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--law", default=DEFAULT_LAW, help="a_s,b_s,c_s,b_n,a_d,b_d,c")
    ap.add_argument("--noise", type=float, default=0.002, help="relative noise (log-normal sd)")
    ap.add_argument("--seconds", type=float, default=0.0, help="how long the run pretends to take")
    ap.add_argument("--fail", choices=("none", "diverge", "refuse"), default="none")
    ap.add_argument("--devices", type=int, default=0, help="CUDA devices given (reported only)")
    ap.add_argument("--pattern", default="0:0", help="n:m of an n:m run (0:0: unstructured)")
    ap.add_argument("--pattern-eta", default="", help="true factors on a_s, e.g. 2:4=0.85,1:4=1.2")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda sig, frame: stop.append(sig))
    law = dict(zip(NAMES, (float(x) for x in a.law.split(","))))
    if a.fail == "refuse" or not (0 <= a.sparsity < 1) or a.width < 1 or a.layers < 1:
        emit("error", code="options", message="the synthetic trainer refuses this run")
        return 2
    etas = dict(item.split("=") for item in a.pattern_eta.split(",") if item)
    eta = float(etas.get(a.pattern, 1.0)) if a.pattern != "0:0" else 1.0
    n = (1 - a.sparsity) * 12 * a.layers * a.width * a.width
    d = float(a.tokens)
    loss = ((eta * law["a_s"] * (1 - a.sparsity) ** law["b_s"] + law["c_s"]) * n ** -law["b_n"]
            + (law["a_d"] / d) ** law["b_d"] + law["c"])
    point = f"{a.seed}:{a.width}:{a.layers}:{a.sparsity!r}:{a.tokens}"
    # an n:m run draws its own noise, not that of the unstructured run at its sparsity
    rng = random.Random(point if a.pattern == "0:0" else point + ":" + a.pattern)
    loss *= math.exp(a.noise * rng.gauss(0.0, 1.0))
    steps = 4
    t0 = time.monotonic()
    emit("start", trainer="synthetic", width=a.width, layers=a.layers, sparsity_target=a.sparsity,
         steps=steps, tokens=a.tokens, seed=a.seed, devices=a.devices)
    for step in range(1, steps + 1):
        if stop:
            emit("result", status="interrupted", signal="SIGTERM", step=step - 1, steps=steps,
                 tokens=a.tokens * (step - 1) // steps)
            return 0
        time.sleep(a.seconds / steps)
        tokens = a.tokens * step // steps
        elapsed = time.monotonic() - t0
        emit("progress", step=step, steps=steps, tokens=tokens, train_loss=loss, sparsity=a.sparsity,
             nonzeros=int(round(n)), tokens_per_s=tokens / elapsed if elapsed > 0 else 0.0,
             elapsed_s=elapsed)
    if a.fail == "diverge":
        emit("result", status="diverged", step=steps, steps=steps, tokens=a.tokens)
        return 0
    seconds = time.monotonic() - t0
    emit("result", status="completed", step=steps, steps=steps, tokens=a.tokens, train_loss=loss,
         val_loss=loss, sparsity=a.sparsity, nonzeros=int(round(n)), seconds=seconds,
         train_seconds=seconds, devices=a.devices)
    return 0


if __name__ == "__main__":
    sys.exit(main())
