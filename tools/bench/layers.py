#!/usr/bin/python3
"""layers.py: the per-layer table of docs/performance.md. Runs `ondine run MODEL --profile`
K times (each a fresh process, planned the same way: pass --tune-cache for a tuned plan) and
keeps, per step, the fastest of the K runs, which on a shared machine is the one least
disturbed by other work; G MAC/s and % of the fp32/bf16/int8 peak from `ondine bench --peak`
measured in the same call. Prints a Markdown table in run order and the load average.

usage: layers.py ONDINE MODEL [--runs 5] [ondine run options...]"""
import json
import os
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    ondine, model, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    runs = 5
    if "--runs" in rest:
        i = rest.index("--runs")
        runs = int(rest[i + 1])
        del rest[i:i + 2]
    precision = rest[rest.index("--precision") + 1] if "--precision" in rest else "fp32"
    threads = rest[rest.index("--threads") + 1] if "--threads" in rest else str(os.cpu_count())
    load0 = os.getloadavg()
    best = None
    with tempfile.TemporaryDirectory() as d:
        for _ in range(runs):
            trace = os.path.join(d, "trace.json")
            subprocess.run([ondine, "run", model, "--profile", trace] + rest, check=True,
                           stdout=subprocess.DEVNULL)
            ev = json.load(open(trace))["traceEvents"]
            if best is None:
                best = ev
            else:
                assert len(ev) == len(best), "the plan changed between runs"
                for b, e in zip(best, ev):
                    assert b["args"]["impl"] == e["args"]["impl"], "the kernels changed"
                    b["dur"] = min(b["dur"], e["dur"])
    peak = subprocess.run([ondine, "bench", "--peak", "--json", "--threads", threads],
                          capture_output=True, text=True)
    peak_g = json.loads(peak.stdout)[precision].get("gmacs", 0) if peak.returncode == 0 else 0
    pct = lambda g: f"{100 * g / peak_g:.0f}%" if peak_g else "?"
    total = sum(e["dur"] for e in best) / 1e3
    macs = sum(e["args"].get("macs", 0) for e in best)
    print("| step | op | ms | implementation | src -> dst | G MAC/s | % of peak |")
    print("|---|---|---|---|---|---|---|")
    for e in best:
        ms, m = e["dur"] / 1e3, e["args"].get("macs", 0)
        g = m / ms / 1e6 if m and ms > 0 else 0
        lay = e["args"]["src"] if e["args"]["src"] == e["args"]["dst"] else \
            f"{e['args']['src']} -> {e['args']['dst']}"
        print(f"| {e['name']} | {e['cat']} | {ms:.3f} | {e['args']['impl']} | {lay} | "
              + (f"{g:.1f} | {pct(g)} |" if m else " | |"))
    load1 = os.getloadavg()
    print(f"\nSum of the per-step minima {total:.2f} ms for {macs / 1e9:.3f} G MACs "
          f"({macs / total / 1e6:.1f} G MAC/s, {pct(macs / total / 1e6)} of the "
          f"{precision} peak of {peak_g:.1f} G MAC/s on {threads} threads); fastest of {runs} "
          f"profiled runs per step; load average {load0[0]:.1f} before, {load1[0]:.1f} after.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
