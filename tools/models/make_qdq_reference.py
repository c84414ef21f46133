#!/usr/bin/python3
"""make_qdq_reference.py: writes a backend test folder like tests/data/resnet20_fashion_qdq: the
QDQ model `ondine quantize` makes of examples/models/resnet20_fashion.onnx (calibrated on 64
Fashion-MNIST training images), 8 Fashion-MNIST test images, and ONNX Runtime's outputs for
them with its graph optimizations off (tools/ort_run.js), the independent reference that the
`trust_models` ctest holds fp32 sessions of the model to at every level. The committed folder
was made from the projection-shortcut ResNet-20 that examples/models held before the option-A
nets of the degradation experiment replaced it; it stands on its own.

usage: make_qdq_reference.py BUILD OUT   (BUILD holds bin/ondine and node/node_modules with
onnxruntime-node: `make bench` or `npm install --ignore-scripts --prefix BUILD/node
onnxruntime-node` installs it)
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = "/usr/share/datasets/fashion-mnist"


def images(name, start, count):
    with gzip.open(os.path.join(DATA, name)) as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16)
    x = raw.reshape(-1, 1, 28, 28)[start:start + count]
    return (x.astype(np.float32) / 255.0)  # as examples/classify_fashion.c feeds them


def save(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def main():
    build, out = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(out, "test_data_set_0"), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cal = os.path.join(tmp, "cal")
        for k in range(64):
            os.makedirs(os.path.join(cal, f"test_data_set_{k}"))
            save(os.path.join(cal, f"test_data_set_{k}", "input_0.pb"),
                 images("train-images-idx3-ubyte.gz", k, 1), "input")
        model = os.path.join(out, "model.onnx")
        subprocess.run([os.path.join(build, "bin/ondine"), "quantize",
                        os.path.join(SRC, "examples/models/resnet20_fashion.onnx"),
                        "--calibrate", cal, "-o", model], check=True)
        name = onnx.load(model).graph.input[0].name
        x = images("t10k-images-idx3-ubyte.gz", 0, 8)
        save(os.path.join(out, "test_data_set_0", "input_0.pb"), x, name)
        x.tofile(os.path.join(tmp, "x.f32"))
        spec = os.path.join(tmp, "spec.json")
        with open(spec, "w") as f:
            json.dump({"inputs": [{"name": name, "shape": list(x.shape),
                                   "file": os.path.join(tmp, "x.f32")}]}, f)
        env = dict(os.environ, NODE_PATH=os.path.join(build, "node", "node_modules"))
        subprocess.run(["node", os.path.join(SRC, "tools/ort_run.js"), model, spec, tmp,
                        "disabled"], check=True, env=env)
        with open(os.path.join(tmp, "outputs.json")) as f:
            o = json.load(f)["outputs"][0]
        y = np.fromfile(o["file"], np.float32).reshape(o["shape"])
        save(os.path.join(out, "test_data_set_0", "output_0.pb"), y, o["name"])
        print(f"{out}: logits {y.shape}, |max| {np.abs(y).max():.3f}")


if __name__ == "__main__":
    main()
