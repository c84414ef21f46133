#!/usr/bin/python3
"""check_layers.py: the library's layers call and include only downward (docs/architecture.md).

The layer order, bottom to top, written down once here:

    ir       the graph, tensors, dtypes, errors (node errors too), option defaults, tracing
    ops      one file per ONNX op, the attribute and shape helpers, and the backend contract
             that op prepares build oneDNN primitives with (runtime/exec.*), and the timing
             of a convolution's candidate kernels and layouts they consult (runtime/tune.*)
    proto    ONNX bytes <-> IR: parsing, limits, tensor decoding, function inlining, writing
    passes   shape inference (the passes infer again after each rewrite) and the graph
             optimization passes (IR + ops)
    runtime  the reference interpreter, the planner, plans, runs, calibration, QDQ helpers, and
             the model object sessions read (runtime/model.h)
    api      the public functions of ondine.h: model load (proto, then inference and
             validation, then passes), sessions, values, versions

A file belongs to the first layer whose pattern its path matches. For every object file of the
library, each ond_* symbol it uses must be defined in its own layer or one below, and each
project header it includes must belong to its own layer or one below. Prints every violation
(file, symbol or header, the two layers) and the count; exits 1 on any, or when it found no
object files (a check that compared nothing is a failure).

usage: check_layers.py SRC_DIR BUILD_DIR
"""
import fnmatch
import os
import re
import subprocess
import sys

LAYERS = [
    ("ir", ["runtime/ir.h", "runtime/graph.c", "runtime/tensor.c", "runtime/error.c",
            "runtime/options.c", "runtime/trace.c"]),
    ("ops", ["ops/*", "runtime/exec.h", "runtime/exec.c", "runtime/tune.h", "runtime/tune.c"]),
    ("proto", ["proto/*"]),
    ("passes", ["runtime/passes/*", "runtime/infer.c"]),
    ("api", ["runtime/model.c", "runtime/api.c"]),
    ("runtime", ["runtime/*"]),
]
ORDER = ["ir", "ops", "proto", "passes", "runtime", "api"]


def layer_of(path):
    for name, patterns in LAYERS:
        if any(fnmatch.fnmatch(path, p) for p in patterns):
            return name
    return None


def main():
    src, build = sys.argv[1], sys.argv[2]
    objs = {}
    for d in ("ondine_objs.dir", "ondine_proto.dir"):
        root = os.path.join(build, "CMakeFiles", d)
        for dirpath, _, files in os.walk(root):
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f[:-2]), root)
                # protoc-c's generated code (in the build tree) is proto's, but not ours
                if f.endswith(".c.o") and os.path.exists(os.path.join(src, rel)):
                    objs[rel] = os.path.join(dirpath, f)
    if not objs:
        print("check_layers: no object files under", build)
        return 1
    defined, used = {}, {}
    for rel, obj in objs.items():
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        used[rel] = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[-1].startswith("ond_"):
                if parts[-2] in "TDBR":
                    defined[parts[-1]] = rel
                elif parts[-2] == "U":
                    used[rel].add(parts[-1])
    bad = []
    for rel in sorted(objs):
        mine = layer_of(rel)
        if mine is None:
            bad.append(f"{rel}: in no layer (add it to check_layers.py's table)")
            continue
        for sym in sorted(used[rel]):
            home = defined.get(sym)
            if home and ORDER.index(layer_of(home)) > ORDER.index(mine):
                bad.append(f"{rel} ({mine}) calls {sym} of {home} ({layer_of(home)})")
        with open(os.path.join(src, rel), encoding="utf-8") as f:
            for inc in re.findall(r'^#include "([^"]+)"', f.read(), re.M):
                hl = layer_of(inc)
                if hl and ORDER.index(hl) > ORDER.index(mine):
                    bad.append(f"{rel} ({mine}) includes {inc} ({hl})")
    for line in bad:
        print(line)
    print(f"check_layers: {len(objs)} object files, {len(bad)} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
