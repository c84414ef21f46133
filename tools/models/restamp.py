#!/usr/bin/python3
"""restamp.py: rewrites an ONNX model exported at opset <= 17 as newer exporters write it, at a
later default-domain opset and IR version, and (--check) compares ondine with ONNX Runtime on it.

torch 1.13 exports up to opset 17; current exporters write 18 to 21 and ONNX Runtime 1.30 reads
up to 26. Restamping applies the signature changes of the versions crossed, so the result is
what an exporter at that opset would write:
  opset 18: ReduceMean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare take `axes` as an int64
            input instead of an attribute; Split takes `num_outputs` when it has no `split`
            input (ReduceSum, Squeeze, Unsqueeze and Split moved their axes/split to inputs at
            13 already; Pad's inputs date from 11).
  19 to 26: no input or attribute of the existing signatures changes (new attributes have
            defaults that keep the old meaning), so the opset number is all that changes.
The IR version is set as asked (8 to 11). Limits: the model must be at opset 13 or later
(older signature changes are not applied) and hold no local functions.

usage: restamp.py MODEL.onnx --opset 18 --opset 21 --ir 8 ... --out DIR
                  [--check --build BUILD --batch 2 --size 112]
--check exits 77 (ctest's skip) when onnxruntime-node is not installed in BUILD/node.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REDUCE_18 = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
             "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}


def default_opset(m):
    return next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))


def restamp(m, opset, ir):
    """A copy of model m at default-domain opset `opset` and IR version `ir`."""
    m2 = onnx.ModelProto()
    m2.CopyFrom(m)
    old = default_opset(m2)
    if old < 13:
        raise ValueError(f"the model is at opset {old}; restamp needs 13 or later")
    if m2.functions:
        raise ValueError("models with local functions are not restamped")
    g = m2.graph
    names = {i.name for i in g.initializer} | {o for n in g.node for o in n.output}
    if old < 18 <= opset:
        for k, n in enumerate(g.node):
            if n.domain not in ("", "ai.onnx"):
                continue
            attrs = {a.name: a for a in n.attribute}
            if n.op_type in REDUCE_18 and "axes" in attrs:
                name = f"{n.name or n.op_type}_{k}_axes"
                while name in names:
                    name += "_"
                names.add(name)
                g.initializer.append(numpy_helper.from_array(
                    np.array(attrs["axes"].ints, np.int64), name))
                n.attribute.remove(attrs["axes"])
                n.input.append(name)
            if n.op_type == "Split" and (len(n.input) < 2 or not n.input[1]):
                n.attribute.append(helper.make_attribute("num_outputs", len(n.output)))
    for o in m2.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = opset
    m2.ir_version = ir
    return m2


def check(path, build, batch, size, levels):
    """ondine (at each optimization level) against ONNX Runtime on seeded inputs. The exported
    ResNet-50's logits are O(100) (randomized BN statistics), so the bound is normwise: max
    |ondine - ORT| <= 1e-5 x max |ORT| (measured: 8.2e-4 on logits up to 450, 1.8e-6 of the
    scale, float32 summation order), and rtol 1e-3 on every logit above 1e-2 of the scale."""
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
    import ondine
    import ort_oracle
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    m = onnx.load(path, load_external_data=False)
    feeds = {m.graph.input[0].name: x}
    want = ort_oracle.run(build, path, feeds)
    worst = 0.0
    for level in levels:
        got = ondine.InferenceSession(path, threads=1, optimization_level=level).run(None, feeds)
        for g, w in zip(got, want):
            scale = float(np.abs(w).max())
            diff = float(np.abs(g - w).max())
            assert g.shape == w.shape and diff <= 1e-5 * scale, (path, level, diff, scale)
            big = np.abs(w) > 1e-2 * scale
            np.testing.assert_allclose(g[big], w[big], rtol=1e-3, err_msg=f"{path} -O{level}")
            worst = max(worst, diff / scale)
    return worst


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--opset", type=int, action="append", required=True)
    p.add_argument("--ir", type=int, action="append", default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--check", action="store_true")
    p.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--keep", action="store_true", help="keep the restamped files")
    args = p.parse_args()
    if args.check:
        sys.path.insert(0, HERE)
        import ort_oracle
        if not ort_oracle.modules(args.build):
            print(f"SKIPPED: onnxruntime-node is not installed in {args.build}/node "
                  "(`make bench` installs it); nothing was compared")
            return 77
    m = onnx.load(args.model)
    os.makedirs(args.out, exist_ok=True)
    base = os.path.splitext(os.path.basename(args.model))[0]
    irs = args.ir or [8]
    for i, opset in enumerate(args.opset):
        for j, ir in enumerate(irs):
            path = os.path.join(args.out, f"{base}_op{opset}_ir{ir}.onnx")
            onnx.save(restamp(m, opset, ir), path)
            if args.check:
                levels = (0, 2) if i == j == 0 else (2,)
                worst = check(path, args.build, args.batch, args.size, levels)
                print(f"{path}: ondine matches ONNX Runtime (max |diff| {worst:.1e} of the scale)")
                if not args.keep:
                    os.remove(path)
            else:
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
