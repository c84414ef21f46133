#!/usr/bin/python3
"""loadtest.py: `make loadtest`: N concurrent clients (threads, one keep-alive connection each)
send single-image inference requests to `ondine serve` on 127.0.0.1 for a bounded time, with
and without dynamic batching, and report throughput, p50/p99 latency and errors. Bounded: every
request times out after 30 s, each phase stops after --seconds, and the servers it starts are
stopped with SIGTERM (killed after 30 s).

usage: loadtest.py ONDINE MODEL [--clients 16] [--seconds 60] [--threads T] [--max-batch 16]
"""
import argparse
import http.client
import json
import re
import signal
import subprocess
import threading
import time

import numpy as np


def serve(ondine, model, extra):
    p = subprocess.Popen([ondine, "serve", model, "--port", "0", *extra],
                         stdout=subprocess.PIPE, text=True)
    m = re.search(r":(\d+),", p.stdout.readline())
    if not m:
        p.kill()
        raise SystemExit("loadtest: the server did not start")
    return p, int(m.group(1))


def phase(args, label, extra):
    p, port = serve(args.ondine, args.model, ["--threads", str(args.threads), *extra])
    name = args.model.rsplit("/", 1)[-1][:-5]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/v2/models/{name}")
    meta = json.loads(conn.getresponse().read())["inputs"][0]
    shape = [1 if d < 0 else d for d in meta["shape"]]
    body = json.dumps({"inputs": [{"name": meta["name"], "shape": shape, "datatype": "FP32",
                                   "data": np.random.default_rng(0).random(
                                       int(np.prod(shape))).tolist()}]})
    lat, errors, lock = [], [0], threading.Lock()
    end = time.monotonic() + args.seconds

    def client():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < end:
            t = time.monotonic()
            try:
                c.request("POST", f"/v2/models/{name}/infer", body)
                r = c.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                if ok:
                    lat.append(time.monotonic() - t)
                else:
                    errors[0] += 1
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    rows = re.search(r"ondine_batch_size_sum\{[^}]*\} (\d+)", text)
    runs = re.search(r"ondine_batch_size_count\{[^}]*\} (\d+)", text)
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
    lat.sort()
    pct = lambda q: 1000 * lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
    mean_batch = int(rows.group(1)) / max(1, int(runs.group(1))) if rows and runs else 0
    print(f"{label:22} {len(lat) / wall:9.1f} {pct(0.5):9.2f} {pct(0.99):9.2f} {errors[0]:7d} "
          f"{mean_batch:10.2f}")
    return len(lat) / wall, errors[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ondine")
    p.add_argument("model")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--threads", type=int, default=0, help="threads per run (0: all cores)")
    p.add_argument("--max-batch", type=int, default=16)
    args = p.parse_args()
    print(f"{args.clients} clients, {args.seconds:g} s per phase, 1 image per request")
    print(f"{'':22} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'rows/run':>10}")
    plain, e1 = phase(args, "no batching", ["--max-batch", "1"])
    batched, e2 = phase(args, f"batching (max {args.max_batch})",
                        ["--max-batch", str(args.max_batch), "--batch-timeout-us", "2000"])
    print(f"throughput with batching: {batched / plain:.2f}x without; errors {e1 + e2}")
    return 1 if e1 + e2 else 0


if __name__ == "__main__":
    raise SystemExit(main())
