"""ort_oracle.py: ONNX Runtime (npm onnxruntime-node in BUILD/node, as `make bench` installs it)
as an oracle from Python: writes the inputs as raw files, runs tools/models/ort_run.js with
node, reads the outputs back as numpy arrays."""
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = {np.dtype(np.float32): "float32", np.dtype(np.int64): "int64",
         np.dtype(np.uint8): "uint8", np.dtype(np.int8): "int8", np.dtype(np.int32): "int32"}


def modules(build):
    """The node_modules folder holding onnxruntime-node, or None when it is not installed."""
    mods = os.path.join(build, "node", "node_modules")
    ok = os.path.isdir(os.path.join(mods, "onnxruntime-node")) and shutil.which("node")
    return mods if ok else None


def run(build, model, feeds):
    """Outputs of model (a path) on feeds ({name: array}) in ONNX Runtime, in graph order."""
    with tempfile.TemporaryDirectory() as d:
        listing = []
        for k, (name, a) in enumerate(feeds.items()):
            a = np.ascontiguousarray(a)
            a.tofile(os.path.join(d, f"in_{k}.bin"))
            listing.append({"name": name, "type": TYPES[a.dtype], "shape": list(a.shape),
                            "file": f"in_{k}.bin"})
        with open(os.path.join(d, "inputs.json"), "w") as f:
            json.dump(listing, f)
        env = dict(os.environ, NODE_PATH=modules(build))
        p = subprocess.run(["node", os.path.join(HERE, "ort_run.js"), model, d], env=env,
                           capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"ONNX Runtime failed on {model}: {p.stderr.strip()}")
        with open(os.path.join(d, "outputs.json")) as f:
            outs = json.load(f)
        dtypes = {v: k for k, v in TYPES.items()}
        return [np.fromfile(os.path.join(d, o["file"]), dtype=dtypes[o["type"]])
                .reshape(o["shape"]) for o in outs]
