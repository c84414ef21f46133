#!/usr/bin/python3
"""compare.py: `make bench`: ondine against ONNX Runtime (npm onnxruntime-node, installed into the
build tree with --ignore-scripts), measured in the same run, alternating, several rounds; medians
and ratios per model at batch 1 and 16, cold start (process start to first result) and peak RSS.
Writes a Markdown table (--table FILE, e.g. docs/performance.md's table) and a JSON report.

--precisions fp32,bf16 runs ondine at each precision in the same alternating rounds, each
compared with ONNX Runtime fp32 (one table row per precision).

usage: compare.py BUILD_DIR [--models resnet18,resnet50,...] [--batches 1,16] [--rounds 3]
                  [--threads 2] [--iters 10] [--precisions fp32] [--json FILE] [--table FILE]"""
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
    prefix = os.path.join(build, "node")
    if not os.path.isdir(os.path.join(prefix, "node_modules", "onnxruntime-node")):
        os.makedirs(prefix, exist_ok=True)
        # The package's install script downloads from the internet: the CPU binary is already
        # in the npm tarball, so skip scripts.
        subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund",
                        "--prefix", prefix, "onnxruntime-node"], check=True,
                       stdout=subprocess.DEVNULL)
    return os.path.join(prefix, "node_modules")


def export(build, model):
    out = os.path.join(build, "models")
    path = os.path.join(out, f"{model}_bnkeep_op13", "model.onnx")
    if not os.path.exists(path):
        sh(["/usr/bin/python3", os.path.join(SRC, "tools/models/export_torchvision.py"),
            "--model", model, "--opset", "13", "--bn", "keep", "--no-data", "--out", out])
    return path


def ondine(build, model, batch, threads, iters, precision):
    return json.loads(sh([os.path.join(build, "bin/ondine"), "bench", model, "--json", "--batch",
                          str(batch), "--threads", str(threads), "--iters", str(iters),
                          "--precision", precision]))


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
    ap.add_argument("--models", default="resnet18,resnet50,resnet101,vgg16,googlenet")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--precisions", default="fp32")
    ap.add_argument("--json")
    ap.add_argument("--table")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    node_path = ensure_ort(build)
    node_rss = json.loads(sh(["node", "-e", "console.log(process.resourceUsage().maxRSS/1024)"]))
    rows = []
    for name in a.models.split(","):
        model = export(build, name)
        for batch in [int(b) for b in a.batches.split(",")]:
            precisions = a.precisions.split(",")
            o, r = {p: [] for p in precisions}, []
            for _ in range(a.rounds):  # alternate so all see the same machine state
                for p in precisions:
                    o[p].append(ondine(build, model, batch, a.threads, a.iters, p))
                r.append(ort(node_path, model, batch, a.threads, a.iters))
            med = lambda runs, k: statistics.median(x[k] for x in runs)
            cold_ms = {}
            if batch == 1:
                env = dict(os.environ, NODE_PATH=node_path)
                cold_ms["ort"] = statistics.median(
                    cold(["node", os.path.join(HERE, "ort_bench.js"), model, "1",
                          str(a.threads), "1", "0", "--cold"], env=env) for _ in range(a.rounds))
            for p in precisions:
                row = {"model": name if p == "fp32" else f"{name} {p}", "precision": p,
                       "batch": batch, "threads": a.threads,
                       "ondine_p50_ms": med(o[p], "p50_ms"), "ort_p50_ms": med(r, "p50_ms"),
                       "ondine_ips": med(o[p], "throughput_ips"), "ort_ips": med(r, "throughput_ips"),
                       "ondine_rss_mb": med(o[p], "peak_rss_mb"), "ort_rss_mb": med(r, "peak_rss_mb")}
                if batch == 1:
                    row["ondine_cold_ms"] = statistics.median(
                        cold([os.path.join(build, "bin/ondine"), "run", model, "--threads",
                              str(a.threads), "--precision", p]) for _ in range(a.rounds))
                    row["ort_cold_ms"] = cold_ms["ort"]
                row["latency_ratio"] = row["ondine_p50_ms"] / row["ort_p50_ms"]
                row["throughput_ratio"] = row["ondine_ips"] / row["ort_ips"]
                rows.append(row)
                print(json.dumps(row), flush=True)
    lines = ["| model | batch | ondine p50 ms | ORT p50 ms | latency ratio | ondine img/s | ORT img/s "
             "| throughput ratio | cold start ondine / ORT ms | peak RSS ondine / ORT MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cold_s = (f"{r['ondine_cold_ms']:.0f} / {r['ort_cold_ms']:.0f}" if "ondine_cold_ms" in r
                  else "")
        lines.append(f"| {r['model']} | {r['batch']} | {r['ondine_p50_ms']:.2f} | "
                     f"{r['ort_p50_ms']:.2f} | {r['latency_ratio']:.2f} | {r['ondine_ips']:.1f} | "
                     f"{r['ort_ips']:.1f} | {r['throughput_ratio']:.2f} | {cold_s} | "
                     f"{r['ondine_rss_mb']:.0f} / {r['ort_rss_mb']:.0f} |")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), platform.processor())
    lines.append("")
    lines.append(f"Measured {time.strftime('%Y-%m-%d')} on {cpu}, {os.cpu_count()} cores, "
                 f"{a.threads} threads, {a.rounds} alternating rounds of {a.iters} runs (medians); "
                 f"Node.js alone uses {node_rss:.0f} MB RSS.")
    table = "\n".join(lines) + "\n"
    print(table)
    if a.table:
        with open(a.table, "w") as f:
            f.write(table)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "node_rss_mb": node_rss}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
