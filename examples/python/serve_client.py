#!/usr/bin/python3
"""serve_client.py: classifies Fashion-MNIST test images against `ondine serve` with nothing but
the Python standard library and numpy: KServe v2 / Open Inference Protocol JSON over
http.client. Any Open Inference Protocol client (Triton's, KServe's) works the same way.

    ondine serve examples/models/resnet20_fashion.onnx --port 8000 &
    /usr/bin/python3 examples/python/serve_client.py --port 8000 --count 100
"""
import argparse
import gzip
import http.client
import json
import sys

import numpy as np

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]
DATA = "/usr/share/datasets/fashion-mnist"


def load(name, offset):
    with gzip.open(f"{DATA}/{name}") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default="resnet20_fashion")
    p.add_argument("--count", type=int, default=100, help="test images to classify")
    p.add_argument("--batch", type=int, default=10, help="images per request")
    a = p.parse_args()
    x = load("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)[:a.count]
    x = x.astype(np.float32) / 255.0
    labels = load("t10k-labels-idx1-ubyte.gz", 8)[:a.count]
    conn = http.client.HTTPConnection(a.host, a.port, timeout=60)
    conn.request("GET", f"/v2/models/{a.model}")
    meta = json.loads(conn.getresponse().read())
    inp = meta["inputs"][0]
    right = 0
    for start in range(0, len(x), a.batch):
        batch = x[start:start + a.batch]
        body = {"inputs": [{"name": inp["name"], "shape": list(batch.shape),
                            "datatype": "FP32", "data": batch.ravel().tolist()}]}
        conn.request("POST", f"/v2/models/{a.model}/infer", json.dumps(body),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        resp = json.loads(r.read())
        if r.status != 200:
            sys.exit(f"serve_client: {r.status}: {resp.get('error')}")
        out = resp["outputs"][0]
        pred = np.array(out["data"]).reshape(out["shape"]).argmax(1)
        right += int((pred == labels[start:start + len(batch)]).sum())
        if start == 0:
            for k in range(min(3, len(batch))):
                print(f"image {k}: {CLASSES[pred[k]]} (label {CLASSES[labels[k]]})")
    print(f"{right}/{len(x)} right ({100.0 * right / len(x):.2f}%)")


if __name__ == "__main__":
    main()
