#!/usr/bin/env python3
"""The JSON summary of bench/gpu_check.sh, from what its steps left in a
work directory (each step's log and steps.jsonl, one line per step).

    bench/gpu_check_summary.py --dir WORK --out gpu_check.json [--started EPOCH]

Whatever is missing (a step that failed, timed out or never ran) is null
with the step's status beside it, so a partial run still gives a complete
summary. Throughput: tokens/s of the trainer's last progress window and of
PyTorch's timed steps, step time (batch x context / tokens/s), model FLOP/s
(training FLOPs per token, 3 x forward with causal attention as run, the
count sparselaw-train reports, times tokens/s) and its share of the GPU's
dense BF16 peak (from the table below, by name; null for another GPU).
Standard library only.
"""
import argparse
import json
import os
import re
import sys
import time

# Dense BF16 tensor-core peak, FLOP/s, by a substring of the GPU's name.
BF16_PEAK = [("H200", 989.4e12), ("H100 PCIe", 756.0e12), ("H100", 989.4e12),
             ("A100", 312.0e12), ("L40S", 362.1e12), ("A10G", 70.0e12), ("L4", 121.0e12)]
SHAPES = [(6, 384, 6), (12, 768, 12), (24, 1024, 16)]
CONTEXTS = [256, 1024]
TOKENS_PER_STEP = 8192


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def json_lines(text):
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def train_flops_per_token(layers, width, context, vocab=256):
    fwd = 24.0 * layers * width * width + 2.0 * vocab * width + 2.0 * layers * width * (context + 1)
    return 3.0 * fwd


def peak_for(name):
    for key, peak in BF16_PEAK:
        if name and key in name:
            return peak
    return None


def ours(lines, status):
    start = next((e for e in lines if e.get("event") == "start"), None)
    prog = [e for e in lines if e.get("event") == "progress"]
    err = next((e for e in lines if e.get("event") == "error"), None)
    r = {"status": status, "tokens_per_s": None, "error": err.get("message") if err else None}
    if start and prog:
        r["tokens_per_s"] = prog[-1].get("tokens_per_s")
        r["train_flops_per_token"] = start.get("train_flops_per_token")
        r["gpu_name"] = start.get("gpu_name")
        r["precision"] = start.get("precision")
    return r


def torch_result(lines, status, log):
    d = lines[-1] if lines else None
    r = {"status": status, "tokens_per_s": d.get("tokens_per_s") if d else None}
    if d:
        for k in ("torch", "precision", "sdpa", "compile", "gpu_name", "gpu_peak_memory_bytes"):
            r[k] = d.get(k)
    elif log:
        r["error"] = log.strip().splitlines()[-1][:300] if log.strip() else None
    return r


def gpu_tests(text, status):
    tests = {}
    for m in re.finditer(r"Test\s+#\d+:\s+(\S+)\s+\.*\s*(\*\*\*)?(\w+)", text or ""):
        tests[m.group(1)] = m.group(3)
    counts = {k: sum(1 for v in tests.values() if v == k) for k in ("Passed", "Failed", "Skipped")}
    skipped = re.findall(r"SKIP: (.*)", text or "")
    ran = bool(tests) and counts["Skipped"] == 0
    return {"status": status, "ran_on_a_gpu": ran, "tests": tests,
            "passed": counts["Passed"], "failed": len(tests) - counts["Passed"] - counts["Skipped"],
            "skipped": counts["Skipped"], "skip_reason": skipped[0] if skipped else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--started", type=float, default=None, help="epoch seconds of the start")
    a = ap.parse_args()
    steps = {}
    for s in json_lines(read(os.path.join(a.dir, "steps.jsonl"))):
        steps[s.get("step")] = s

    def status(name):
        return steps.get(name, {}).get("status", "not run")

    def log(name):
        return read(os.path.join(a.dir, name + ".log"))

    smi = (log("nvidia_smi") or "").strip().splitlines()
    gpu = {"nvidia_smi": smi[0] if smi and status("nvidia_smi") == "ok" else None}
    cfg = log("configure") or ""
    m = re.search(r"sparselaw-train: (.*)", cfg)
    build = {"configure": status("configure"), "build": status("build"),
             "cuda": m.group(1) if m else None}

    rows, names = [], []
    for layers, width, heads in SHAPES:
        for ctx in CONTEXTS:
            tag = "%dx%d_t%d" % (layers, width, ctx)
            o = ours(json_lines(log("ours_" + tag)), status("ours_" + tag))
            t = torch_result(json_lines(log("torch_" + tag)), status("torch_" + tag),
                             log("torch_" + tag))
            f = o.get("train_flops_per_token") or train_flops_per_token(layers, width, ctx)
            name = o.get("gpu_name") or t.get("gpu_name")
            names.append(name)
            peak = peak_for(name)
            for r in (o, t):
                tps = r.get("tokens_per_s")
                r["step_seconds"] = TOKENS_PER_STEP / tps if tps else None
                r["model_flops_per_s"] = f * tps if tps else None
                r["bf16_peak_share"] = f * tps / peak if tps and peak else None
            ratio = (o["step_seconds"] / t["step_seconds"]
                     if o["step_seconds"] and t["step_seconds"] else None)
            rows.append({"layers": layers, "width": width, "heads": heads, "context": ctx,
                         "batch": TOKENS_PER_STEP // ctx, "train_flops_per_token": f,
                         "sparselaw_train": o, "pytorch": t,
                         "step_time_ratio": ratio,
                         "within_1_5x": ratio <= 1.5 if ratio is not None else None})
    gpu["name"] = next((n for n in names if n), None)
    gpu["bf16_peak_flops_per_s"] = peak_for(gpu["name"])

    ratios = [r["within_1_5x"] for r in rows]
    largest = [r["sparselaw_train"]["bf16_peak_share"] for r in rows if r["layers"] == 24]
    largest = [x for x in largest if x is not None]
    targets = {
        "within_1_5x_of_pytorch_step_time_at_every_size":
            all(ratios) if ratios and None not in ratios else None,
        "above_30_percent_of_bf16_peak_at_the_largest":
            max(largest) > 0.30 if largest else None,
    }
    sweep = None
    text = read(os.path.join(a.dir, "sweep.json"))
    if text:
        try:
            sweep = json.loads(text)
        except ValueError:
            sweep = {"error": "sweep.json is not JSON"}
    sweep = dict(sweep or {}, status=status("sweep"))
    sweep["runs_succeeded"] = sum(1 for r in sweep.get("runs") or [] if r.get("state") == "succeeded")

    total = time.time() - a.started if a.started else None
    summary = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "total_seconds": total,
        "under_8_minutes": total < 480 if total is not None else None,
        "work_dir": os.path.abspath(a.dir),
        "gpu": gpu,
        "build": build,
        "gpu_tests": gpu_tests(log("gpu_tests"), status("gpu_tests")),
        "throughput": rows,
        "targets": targets,
        "sweep": sweep,
        "steps": list(steps.values()),
    }
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.out)
    print("gpu_check: summary in %s" % a.out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
