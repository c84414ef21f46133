"""ort_oracle.py: ONNX Runtime (npm onnxruntime-node in BUILD/node, as `make bench` installs it)
as an oracle from Python: writes the inputs as raw files, runs tools/ort_run.js with node (graph
optimizations off: the plain kernels), reads the outputs back as numpy arrays."""
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

ORT_RUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ort_run.js")
TYPES = {np.dtype(np.float32): "float32", np.dtype(np.int64): "int64",
         np.dtype(np.int32): "int32", np.dtype(np.int8): "int8", np.dtype(np.uint8): "uint8"}


def modules(build):
    """The node_modules folder holding onnxruntime-node, or None when it is not installed."""
    mods = os.path.join(build, "node", "node_modules")
    ok = os.path.isdir(os.path.join(mods, "onnxruntime-node")) and shutil.which("node")
    return mods if ok else None


def run(build, model, feeds):
    """Outputs of model (a path) on feeds ({name: array}) in ONNX Runtime, in graph order."""
    with tempfile.TemporaryDirectory() as d:
        inputs = []
        for k, (name, a) in enumerate(feeds.items()):
            a = np.ascontiguousarray(a)
            a.tofile(os.path.join(d, f"in_{k}.bin"))
            inputs.append({"name": name, "type": TYPES[a.dtype], "shape": list(a.shape),
                           "file": os.path.join(d, f"in_{k}.bin")})
        spec = os.path.join(d, "spec.json")
        with open(spec, "w") as f:
            json.dump({"inputs": inputs}, f)
        env = dict(os.environ, NODE_PATH=modules(build))
        p = subprocess.run(["node", ORT_RUN, model, spec, d, "disabled"], env=env,
                           capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"ONNX Runtime failed on {model}: {p.stderr.strip()}")
        with open(os.path.join(d, "outputs.json")) as f:
            outs = json.load(f)["outputs"]
        dtypes = {v: k for k, v in TYPES.items()}
        return [np.fromfile(o["file"], dtype=dtypes[o["type"]]).reshape(o["shape"])
                for o in outs]
