#!/usr/bin/python3
"""serve_test.py: `ondine serve` against the Open Inference Protocol (KServe v2 REST), on
127.0.0.1 with an ephemeral port, bounded in time (every request has a 30 s timeout, the server
is killed if it outlives the test).

- every endpoint: health, server and model metadata (symbolic dims as -1), model ready, 404s,
  405s;
- inference in JSON (flat and nested data) and with the binary tensor data extension (binary
  input and output), outputs equal to `ondine run`'s for the same image run alone (the
  reference: `ondine run --output-dir`, batch 1; batched and single runs agree to 2e-6
  measured on these logits of magnitude ~10, so atol 1e-5);
- the bad-request matrix: each gets the protocol's {"error": ...} and its status;
- 8 concurrent clients with dynamic batching on: every answer is its image's, and /metrics shows
  runs of more than one row;
- SIGTERM while a request is in flight: that request is answered, the server exits 0.

usage: serve_test.py ONDINE SRC_DIR WORK_DIR
"""
import gzip
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import onnx
from onnx import numpy_helper

ONDINE, SRC, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
MODEL = os.path.join(SRC, "examples/models/resnet20_fashion.onnx")
failures, passed = [], []


def check(cond, what):
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    (passed if cond else failures).append(what)


def images(count):
    with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16)
    return raw.reshape(-1, 1, 28, 28)[:count].astype(np.float32) / 255.0


def reference(x):
    """`ondine run` of one image: its logits."""
    d = os.path.join(WORK, "ref")
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "x.npy"), x)
    subprocess.run([ONDINE, "run", MODEL, "--threads", "1", "--input",
                    "input=" + os.path.join(d, "x.npy"), "--output-dir", d], check=True,
                   stdout=subprocess.DEVNULL)
    return numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "output_0.pb")))


class Server:
    def __init__(self, *args):
        self.p = subprocess.Popen([ONDINE, "serve", *args, "--port", "0"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not m:
            self.p.kill()
            raise SystemExit(f"serve did not start: {line}{self.p.stderr.read()}")
        self.port = int(m.group(1))

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), data

    def json(self, method, path, obj=None):
        status, _, data = self.request(method, path, None if obj is None else
                                       (obj if isinstance(obj, (bytes, str)) else
                                        json.dumps(obj)))
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data


def infer_body(x, nested=False, name="input", datatype="FP32", shape=None):
    data = x.tolist() if nested else x.ravel().tolist()
    return {"inputs": [{"name": name, "shape": list(shape or x.shape), "datatype": datatype,
                        "data": data}]}


def logits(resp):
    o = resp["outputs"][0]
    return np.array(o["data"], np.float32).reshape(o["shape"])


def endpoints(s):
    check(s.json("GET", "/v2/health/live") == (200, {"live": True}), "GET /v2/health/live")
    check(s.json("GET", "/v2/health/ready") == (200, {"ready": True}), "GET /v2/health/ready")
    st, meta = s.json("GET", "/v2")
    check(st == 200 and meta["name"] == "ondine" and "binary_tensor_data" in meta["extensions"],
          "GET /v2: server metadata")
    st, meta = s.json("GET", "/v2/models/resnet20_fashion")
    check(st == 200 and meta["inputs"] == [{"name": "input", "datatype": "FP32",
                                            "shape": [-1, 1, 28, 28]}] and
          meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}],
          "GET /v2/models/NAME: inputs and outputs, -1 for the symbolic batch")
    check(s.json("GET", "/v2/models/r20/versions/1")[0] == 200, "NAME=PATH names a model; "
          "/versions/1/ paths")
    check(s.json("GET", "/v2/models/resnet20_fashion/ready") ==
          (200, {"name": "resnet20_fashion", "ready": True}), "GET /v2/models/NAME/ready")
    check(s.json("GET", "/v2/models/nope")[0] == 404, "unknown model: 404")
    check(s.json("GET", "/v3/anything")[0] == 404, "unknown path: 404")
    check(s.json("GET", "/v2/models/resnet20_fashion/infer")[0] == 405, "GET infer: 405")
    check(s.json("POST", "/v2/health/live", {})[0] == 405, "POST live: 405")


def inference(s, x, refs):
    st, r = s.json("POST", "/v2/models/resnet20_fashion/infer", infer_body(x[:1]))
    check(st == 200 and r["model_name"] == "resnet20_fashion" and
          np.abs(logits(r) - refs[0]).max() <= 1e-5, "JSON flat data: ondine run's logits")
    st, r = s.json("POST", "/v2/models/resnet20_fashion/infer",
                   dict(infer_body(x[1:2], nested=True), id="req-7"))
    check(st == 200 and r.get("id") == "req-7" and np.abs(logits(r) - refs[1]).max() <= 1e-5,
          "JSON nested data, id echoed")
    st, r = s.json("POST", "/v2/models/resnet20_fashion/infer", infer_body(x[:4]))
    check(st == 200 and np.abs(logits(r) - np.concatenate(refs[:4])).max() <= 1e-5,
          "one request of 4 rows: each row's logits")
    head = json.dumps({"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32",
                                   "parameters": {"binary_data_size": 784 * 4}}],
                       "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]})
    body = head.encode() + x[2].astype("<f4").tobytes()
    st, h, data = s.request("POST", "/v2/models/resnet20_fashion/infer", body,
                            {"Inference-Header-Content-Length": str(len(head)),
                             "Content-Type": "application/octet-stream"})
    hl = int(h.get("Inference-Header-Content-Length", -1))
    ok = st == 200 and hl > 0
    if ok:
        meta = json.loads(data[:hl])
        got = np.frombuffer(data[hl:], "<f4").reshape(meta["outputs"][0]["shape"])
        ok = meta["outputs"][0]["parameters"]["binary_data_size"] == 40 and \
            np.abs(got - refs[2]).max() <= 1e-5
    check(ok, "binary tensor data extension: binary input and binary output")


def bad_requests(s, x):
    path = "/v2/models/resnet20_fashion/infer"
    good = infer_body(x[:1])
    cases = [
        ("malformed JSON", "{bad", 400),
        ("not an object", "[1, 2]", 400),
        ("no inputs", {"outputs": []}, 400),
        ("wrong datatype", infer_body(x[:1], datatype="INT64"), 400),
        ("unknown datatype", infer_body(x[:1], datatype="FP128"), 400),
        ("wrong rank", infer_body(x[:1], shape=[1, 784]), 400),
        ("wrong fixed dim", infer_body(x[:1], shape=[1, 1, 28, 27]), 400),
        ("too few values", infer_body(x[:1], shape=[2, 1, 28, 28]), 400),
        ("a string value", {"inputs": [dict(good["inputs"][0], data=["a"] * 784)]}, 400),
        ("unknown input", infer_body(x[:1], name="image"), 400),
        ("missing input", {"inputs": []}, 400),
        ("input given twice", {"inputs": good["inputs"] * 2}, 400),
        ("unknown output asked for", dict(good, outputs=[{"name": "probs"}]), 400),
        ("tensor over --max-elements", infer_body(x[:1], shape=[10 ** 6, 1, 28, 28]), 413),
        ("body over --max-body-bytes", {"inputs": good["inputs"], "pad": "x" * 5_000_000}, 413),
    ]
    for what, body, status in cases:
        st, r = s.json("POST", path, body)
        check(st == status and isinstance(r, dict) and r.get("error"),
              f"{what}: {status} with an error message (got {st} {str(r)[:80]})")
    st, r = s.json("POST", "/v2/models/nope/infer", good)
    check(st == 404 and r.get("error"), "infer on an unknown model: 404")
    bad = {"inputs": [dict(good["inputs"][0], parameters={"binary_data_size": 10})]}
    st, r = s.json("POST", path, bad)
    check(st == 400 and r.get("error"), "binary_data_size that does not fit: 400")
    check(s.json("GET", "/v2/health/live")[0] == 200, "the server still answers")


def concurrent(s, x, refs):
    errors, lock = [], threading.Lock()

    def client(k):
        for j in range(5):
            i = (k * 5 + j) % len(refs)
            st, r = s.json("POST", "/v2/models/resnet20_fashion/infer", infer_body(x[i:i + 1]))
            if st != 200 or np.abs(logits(r) - refs[i]).max() > 1e-5:
                with lock:
                    errors.append((k, j, st))
    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"8 concurrent clients x 5 requests: every answer its image's ({errors})")
    _, _, m = s.request("GET", "/metrics")
    text = m.decode()
    rows = re.search(r'ondine_batch_size_sum\{model="resnet20_fashion"\} (\d+)', text)
    runs = re.search(r'ondine_batch_size_count\{model="resnet20_fashion"\} (\d+)', text)
    reqs = re.search(r'ondine_requests_total\{model="resnet20_fashion"\} (\d+)', text)
    check(rows and runs and int(runs.group(1)) < int(rows.group(1)),
          f"/metrics: runs joined rows (runs {runs and runs.group(1)}, rows "
          f"{rows and rows.group(1)})")
    check(reqs and int(reqs.group(1)) >= 40 and
          "# TYPE ondine_request_duration_seconds histogram" in text,
          "/metrics: request counter and latency histogram")


def shutdown(s, x):
    """The signal comes once the server counts the request in flight (/metrics); the answer
    is read after it."""
    body = json.dumps(infer_body(np.repeat(x[:1], 64, axis=0)))
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    c.request("POST", "/v2/models/resnet20_fashion/infer", body)
    for _ in range(3000):
        m = re.search(r"ondine_requests_in_flight (\d+)", s.request("GET", "/metrics")[2].decode())
        if m and int(m.group(1)) >= 2:
            break
        time.sleep(0.01)
    s.p.send_signal(signal.SIGTERM)
    r = c.getresponse()
    status, answer = r.status, json.loads(r.read())
    try:
        code = s.p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        s.p.kill()
        code = None
    check(status == 200 and len(answer["outputs"][0]["data"]) == 640,
          f"SIGTERM: the request in flight is answered (got {status} {str(answer)[:100]})")
    check(code == 0, f"SIGTERM: the server exits 0 (got {code})")


def main():
    os.makedirs(WORK, exist_ok=True)
    x = images(40)
    refs = [reference(x[i:i + 1]) for i in range(len(x))]
    s = Server(MODEL, "r20=" + MODEL, "--threads", "1", "--max-batch", "8",
               "--batch-timeout-us", "20000", "--max-body-bytes", "4000000",
               "--max-elements", "1000000")
    try:
        endpoints(s)
        inference(s, x, refs)
        bad_requests(s, x)
        concurrent(s, x, refs)
        shutdown(s, x)
    finally:
        if s.p.poll() is None:
            s.p.kill()
    print(f"{len(passed)} passed, {len(failures)} failed")
    return 1 if failures or len(passed) < 30 else 0


if __name__ == "__main__":
    sys.exit(main())
