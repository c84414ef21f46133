#!/usr/bin/python3
"""concurrent.py: runs from several threads on ONE InferenceSession (threads=1 per run) against
the same runs from one thread: throughput speed-up, and whether every output is bitwise the
single-threaded one. Also prints the CPUs the process kept busy and the machine's load: the
speed-up is only meaningful with free cores (on a loaded Linux with autogroup scheduling, a
process gets one share of the CPUs however many threads it runs). A benchmark, not a test.

usage: concurrent.py MODEL.onnx [--threads 2] [--runs 20] [--rounds 3]
Run from the repository with PYTHONPATH=python (and the build tree's library), e.g.
  PYTHONPATH=python /usr/bin/python3 tools/bench/concurrent.py build/models/resnet18_bnkeep_op13/model.onnx
"""
import argparse
import os
import statistics
import threading
import time

import numpy as np

import ondine


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2, help="caller threads")
    ap.add_argument("--runs", type=int, default=20, help="runs per caller thread")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    sess = ondine.InferenceSession(a.model, threads=1)
    feeds = []
    rng = np.random.default_rng(0)
    for i in range(a.threads):
        feed = {}
        for inp in sess.get_inputs():
            shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
            feed[inp.name] = rng.standard_normal(shape).astype(np.float32)
        feeds.append(feed)
    want = [sess.run(None, f) for f in feeds]  # plans, and the single-threaded outputs

    def serial():
        for f in feeds:
            for _ in range(a.runs):
                sess.run(None, f)

    mismatches = []

    def parallel():
        def work(i):
            for _ in range(a.runs):
                got = sess.run(None, feeds[i])
                if not all(np.array_equal(g, w) for g, w in zip(got, want[i])):
                    mismatches.append(i)
        ts = [threading.Thread(target=work, args=(i,)) for i in range(a.threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def timed(f):
        """Wall seconds, and CPU seconds the process used per wall second."""
        w0, c0 = time.perf_counter(), time.process_time()
        f()
        w = time.perf_counter() - w0
        return w, (time.process_time() - c0) / w

    parallel()  # one context per caller thread, made once
    one, many = [], []
    for _ in range(a.rounds):  # alternating, so both see the same load
        one.append(timed(serial))
        many.append(timed(parallel))
    s1, sn = statistics.median(w for w, _ in one), statistics.median(w for w, _ in many)
    c1, cn = statistics.median(c for _, c in one), statistics.median(c for _, c in many)
    runs = a.threads * a.runs
    print(f"model {os.path.basename(os.path.dirname(a.model)) or a.model}, "
          f"{runs} runs per round, {a.rounds} rounds, threads=1 per run")
    print(f"  1 caller thread : {s1 * 1e3 / runs:7.2f} ms per run, {c1:.2f} CPUs busy")
    print(f"  {a.threads} caller threads: {sn * 1e3 / runs:7.2f} ms per run, {cn:.2f} CPUs busy "
          f"(speed-up {s1 / sn:.2f}x)")
    print(f"  outputs bitwise equal to single-threaded: {'yes' if not mismatches else 'NO'}")
    print(f"  load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} CPUs")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
