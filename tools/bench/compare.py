#!/usr/bin/python3
"""compare.py: `make bench`: ondine against ONNX Runtime (npm onnxruntime-node, installed into the
build tree with --ignore-scripts), measured in the same run, alternating, several rounds; medians
and ratios per model at batch 1 and 16, cold start (process start to first result) and peak RSS.
Writes a Markdown table (--table FILE, e.g. docs/performance.md's table) and a JSON report.

--precisions (default fp32,bf16,int8) runs ondine at each precision in the same alternating rounds: fp32
and bf16 against ONNX Runtime fp32 on the model, int8 against ONNX Runtime on the same QDQ
model (`ondine quantize` writes it; ondine runs it with --precision int8, taking its scales):
one table, three precisions. Every row also gives ondine's G MAC/s and its % of the measured
peak of the precision's unit (ondine bench).

-O2 is never slower than -O1: every model and batch also runs ondine fp32 at -O1 in the same
rounds; a row whose -O2 median exceeds the -O1 median by more than --o1-margin (default 5%,
the run-to-run spread of a quiet machine) is marked and makes the script exit 1.

usage: compare.py BUILD_DIR [--models resnet18,resnet50,...] [--batches 1,16] [--rounds 3]
                  [--threads 2] [--iters 10] [--precisions fp32,bf16,int8] [--json FILE] [--table FILE]
                  [--o1-margin 0.05] [--tune-cache FILE]"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def ensure_ort(build):
    subprocess.run([os.path.join(SRC, "tools/deps/ort.sh"), build], check=True)
    return os.path.join(build, "node", "node_modules")


def export(build, model):
    out = os.path.join(build, "models")
    path = os.path.join(out, f"{model}_bnkeep_op13", "model.onnx")
    if not os.path.exists(path):
        sh(["/usr/bin/python3", os.path.join(SRC, "tools/models/export_torchvision.py"),
            "--model", model, "--opset", "13", "--bn", "keep", "--no-data", "--out", out])
    return path


def ondine(build, model, batch, threads, iters, precision, opt="-O2", tune_cache=None):
    cmd = [os.path.join(build, "bin/ondine"), "bench", model, "--json", "--batch", str(batch),
           "--threads", str(threads), "--iters", str(iters), "--precision", precision, opt]
    if tune_cache:
        cmd += ["--tune-cache", tune_cache]
    return json.loads(sh(cmd))


def quantized(build, model):
    """The QDQ model `ondine quantize` writes next to model (seeded random calibration)."""
    out = os.path.join(os.path.dirname(model), "model_qdq.onnx")
    if not os.path.exists(out):
        sh([os.path.join(build, "bin/ondine"), "quantize", model, "-o", out])
    return out


def ort(node_path, model, batch, threads, iters):
    env = dict(os.environ, NODE_PATH=node_path)
    return json.loads(sh(["node", os.path.join(HERE, "ort_bench.js"), model, str(batch),
                          str(threads), str(iters), "3"], env=env))


def cold(cmd, env=None):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return (time.monotonic() - t) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--models",
                    default="resnet18,resnet50,resnet101,vgg16,googlenet,preact_resnet18")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--precisions", default="fp32,bf16,int8")
    ap.add_argument("--json")
    ap.add_argument("--table")
    ap.add_argument("--o1-margin", type=float, default=0.05)
    ap.add_argument("--tune-cache", help="plan ondine's sessions from this tuning cache")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    node_path = ensure_ort(build)
    node_rss = json.loads(sh(["node", "-e", "console.log(process.resourceUsage().maxRSS/1024)"]))
    rows, slower = [], []
    for name in a.models.split(","):
        model = export(build, name)
        precisions = a.precisions.split(",")
        qdq = quantized(build, model) if "int8" in precisions else None
        for batch in [int(b) for b in a.batches.split(",")]:
            o, r, rq, o1 = {p: [] for p in precisions}, [], [], []
            for _ in range(a.rounds):  # alternate so all see the same machine state
                for p in precisions:
                    o[p].append(ondine(build, qdq if p == "int8" else model, batch, a.threads,
                                       a.iters, p, tune_cache=a.tune_cache))
                o1.append(ondine(build, model, batch, a.threads, a.iters, "fp32", "-O1",
                                 a.tune_cache))
                r.append(ort(node_path, model, batch, a.threads, a.iters))
                if qdq:
                    rq.append(ort(node_path, qdq, batch, a.threads, a.iters))
            med = lambda runs, k: statistics.median(x[k] for x in runs)
            cold_ms = {}
            if batch == 1:
                env = dict(os.environ, NODE_PATH=node_path)
                cold_ms["ort"] = statistics.median(
                    cold(["node", os.path.join(HERE, "ort_bench.js"), model, "1",
                          str(a.threads), "1", "0", "--cold"], env=env) for _ in range(a.rounds))
            for p in precisions:
                ref, path = (rq, qdq) if p == "int8" else (r, model)
                row = {"model": name, "precision": p, "ort_on": "QDQ" if p == "int8" else "fp32",
                       "batch": batch, "threads": a.threads,
                       "ondine_p50_ms": med(o[p], "p50_ms"), "ort_p50_ms": med(ref, "p50_ms"),
                       "ondine_ips": med(o[p], "throughput_ips"), "ort_ips": med(ref, "throughput_ips"),
                       "ondine_rss_mb": med(o[p], "peak_rss_mb"), "ort_rss_mb": med(ref, "peak_rss_mb"),
                       "gmacs": med(o[p], "gmacs_per_s"), "pct_peak": med(o[p], "pct_of_peak")}
                if p == "fp32":
                    row["o1_p50_ms"] = med(o1, "p50_ms")
                    row["o2_not_slower"] = row["ondine_p50_ms"] <= row["o1_p50_ms"] * (1 + a.o1_margin)
                    if not row["o2_not_slower"]:
                        slower.append(f"{name} batch {batch}")
                if batch == 1:
                    row["ondine_cold_ms"] = statistics.median(
                        cold([os.path.join(build, "bin/ondine"), "run", path, "--threads",
                              str(a.threads), "--precision", p]) for _ in range(a.rounds))
                    row["ort_cold_ms"] = cold_ms["ort"]
                row["latency_ratio"] = row["ondine_p50_ms"] / row["ort_p50_ms"]
                row["throughput_ratio"] = row["ondine_ips"] / row["ort_ips"]
                rows.append(row)
                print(json.dumps(row), flush=True)
    load = os.getloadavg()
    lines = ["| model | precision (ORT on) | batch | ondine p50 ms | ORT p50 ms | latency ratio "
             "| ondine img/s | ORT img/s | throughput ratio | ondine G MAC/s (% peak) "
             "| -O1 p50 ms | cold start ondine / ORT ms | peak RSS ondine / ORT MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cold_s = (f"{r['ondine_cold_ms']:.0f} / {r['ort_cold_ms']:.0f}" if "ondine_cold_ms" in r
                  else "")
        o1_s = ""
        if "o1_p50_ms" in r:
            o1_s = f"{r['o1_p50_ms']:.2f}" + ("" if r["o2_not_slower"] else " (-O2 SLOWER)")
        lines.append(f"| {r['model']} | {r['precision']} ({r['ort_on']}) | {r['batch']} | "
                     f"{r['ondine_p50_ms']:.2f} | "
                     f"{r['ort_p50_ms']:.2f} | {r['latency_ratio']:.2f} | {r['ondine_ips']:.1f} | "
                     f"{r['ort_ips']:.1f} | {r['throughput_ratio']:.2f} | "
                     f"{r['gmacs']:.1f} ({r['pct_peak']:.0f}%) | {o1_s} | {cold_s} | "
                     f"{r['ondine_rss_mb']:.0f} / {r['ort_rss_mb']:.0f} |")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), platform.processor())
    lines.append("")
    lines.append(f"Measured {time.strftime('%Y-%m-%d')} on {cpu}, {os.cpu_count()} cores, "
                 f"{a.threads} threads, {a.rounds} alternating rounds of {a.iters} runs (medians); "
                 f"Node.js alone uses {node_rss:.0f} MB RSS; load average {load[0]:.1f} / "
                 f"{load[1]:.1f} / {load[2]:.1f} at the end.")
    table = "\n".join(lines) + "\n"
    print(table)
    if a.table:
        with open(a.table, "w") as f:
            f.write(table)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "node_rss_mb": node_rss}, f, indent=1)
    if slower:
        print("-O2 slower than -O1 on: " + ", ".join(slower), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
