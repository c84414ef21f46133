#!/usr/bin/python3
"""restamp.py: rewrites an ONNX model exported at opset <= 17 as newer exporters write it, at a
later default-domain opset and IR version, and (--check) compares ondine with ONNX Runtime on it.

torch 1.13 exports up to opset 17; current exporters write 18 to 21 and ONNX Runtime 1.30 reads
up to 26. Restamping applies the signature changes of the versions crossed, so the result is
what an exporter at that opset would write:
  opset 18: ReduceMean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare take `axes` as an int64
            input instead of an attribute (MnasNet's head); Split takes `num_outputs` when it
            has no `split` input (ReduceSum, Squeeze, Unsqueeze and Split moved their
            axes/split to inputs at 13 already). Pad-18 adds an optional `axes` input and
            Resize-18 the attributes antialias, axes and keep_aspect_ratio_policy, whose
            absence keeps the old meaning (DeepLabV3's bilinear upsampling is unchanged).
  19 to 26: no input or attribute of the existing signatures changes: Resize-19 adds a
            coordinate mode, Pad-19 a mode, AveragePool-19 dilations, Cast-19 `saturate`
            (float8 only), ReduceMax/Min-20 bool types, later versions more types; each new
            attribute defaults to the old meaning. LayerNormalization (opset 17, ConvNeXt's
            norm) is unchanged through 26. GroupNormalization-21 changed its scale/bias
            shapes, but it was new at 18, so no model exported at <= 17 holds it.
The IR version is set as asked (8 to 11). Limits: the model must be at opset 13 or later
(older signature changes are not applied) and hold no local functions.

usage: restamp.py MODEL.onnx --opset 18 --opset 21 --ir 8 ... --out DIR
                  [--check --build BUILD --batch 2 --size 112 --json REPORT.json]
--check runs each restamped file through ondine (-O0 and -O2 at each opset's first IR, -O2 at
the others) and ONNX Runtime; the input's height and width are the model's own unless --size
says them. It exits 77 (ctest's skip) when onnxruntime-node is not installed in BUILD/node,
1 when a comparison failed (after trying every file).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REDUCE_18 = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
             "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}
# Elementwise |ondine - ORT| <= ATOL + RTOL x |ORT|. Measured on seeded random-weight exports
# (outputs up to 3-9), batch 2, as the largest |diff| / (ATOL + RTOL |ORT|): DeepLabV3 0.58 at
# 112x112 (8.1e-5 on a map up to 5.9, where ORT and torch differ by 6.8e-5 too: float32
# summation order through a dilated ResNet-50), 0.38 at 64x64; MnasNet 0.22 at 112, 0.44 at 64;
# ConvNeXt-tiny 0.03; ResNet-50 0.05 at 112. At 224x224 DeepLabV3 reached 1.1 at -O2 (ondine's
# float32 map is 1.2e-4 from torch's float64 one, ORT's 5.7e-5): tools/conformance.py gives it
# --atol 3e-4.
RTOL, ATOL = 1e-3, 1e-4


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


def input_array(m, batch, size):
    """A seeded normal input of the model's shape at batch `batch`, its height and width the
    model's own or `size`."""
    dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    shape = [batch, dims[1]] + [size or d for d in dims[2:]]
    if not all(shape):
        raise ValueError(f"input dims {dims} are symbolic past the batch: give --size")
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def check(path, build, x, levels, atol):
    """ondine at each optimization level against ONNX Runtime on input x; returns a record per
    level: the largest |diff|, the largest |diff| / (atol + RTOL |ORT|) (above 1 fails), the
    largest |ORT|, and the status."""
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
    import ondine
    import ort_oracle
    m = onnx.load(path, load_external_data=False)
    feeds = {m.graph.input[0].name: x}
    want = ort_oracle.run(build, path, feeds)
    records = []
    for level in levels:
        got = ondine.InferenceSession(path, threads=1, optimization_level=level).run(None, feeds)
        rec = {"level": level, "max_abs": 0.0, "ratio": 0.0, "max_ref": 0.0, "status": "pass"}
        if len(got) != len(want) or not want:
            rec.update(status="fail", reason=f"{len(got)} outputs, ONNX Runtime {len(want)}")
        for g, w in zip(got, want):
            if g.shape != w.shape:
                rec.update(status="fail", reason=f"shape {g.shape}, ONNX Runtime {w.shape}")
                continue
            diff = np.abs(g.astype(np.float64) - w)
            rec["max_abs"] = max(rec["max_abs"], float(diff.max()))
            rec["ratio"] = max(rec["ratio"], float((diff / (atol + RTOL * np.abs(w))).max()))
            rec["max_ref"] = max(rec["max_ref"], float(np.abs(w).max()))
        if rec["status"] == "pass" and not rec["ratio"] <= 1:  # NaN fails too
            rec.update(status="fail", reason=f"|diff| up to {rec['ratio']:.2g} x the tolerance")
        if rec["max_ref"] == 0:  # an all-zero output would compare nothing
            rec.update(status="fail", reason="ONNX Runtime's outputs are all zero")
        records.append(rec)
    return records


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--opset", type=int, action="append", required=True)
    p.add_argument("--ir", type=int, action="append", default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--check", action="store_true")
    p.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--size", type=int, help="input height and width (default: the model's)")
    p.add_argument("--json", help="with --check: write the records here")
    p.add_argument("--atol", type=float, default=ATOL,
                   help=f"absolute tolerance of --check (default {ATOL:g})")
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
    if base == "model":  # a backend-test folder's model.onnx: name it by its folder
        base = os.path.basename(os.path.dirname(os.path.abspath(args.model)))
    records, failed = [], False
    for opset in args.opset:
        for j, ir in enumerate(args.ir or [8]):
            path = os.path.join(args.out, f"{base}_op{opset}_ir{ir}.onnx")
            onnx.save(restamp(m, opset, ir), path)
            if not args.check:
                print(path)
                continue
            t0 = time.monotonic()
            try:
                recs = check(path, args.build, input_array(m, args.batch, args.size),
                             (0, 2) if j == 0 else (2,), args.atol)
            except Exception as e:  # ONNX Runtime or ondine refused the file
                recs = [{"level": None, "status": "error", "reason": str(e).splitlines()[0]}]
            for r in recs:
                r.update(opset=opset, ir=ir, seconds=round(time.monotonic() - t0, 1))
                if r["status"] == "pass":
                    print(f"PASS {path} -O{r['level']}: max |diff| {r['max_abs']:.2g} "
                          f"({r['ratio']:.2f} of the tolerance), largest |ref| "
                          f"{r['max_ref']:.3g}")
                else:
                    failed = True
                    print(f"{r['status'].upper()} {path} -O{r['level']}: {r['reason']}")
            records += recs
            if not args.keep:
                os.remove(path)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": base, "rtol": RTOL, "atol": args.atol, "batch": args.batch,
                       "records": records}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
