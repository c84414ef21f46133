#!/usr/bin/python3
# Writes the output of every node of an ONNX CNN, computed with torch, as <tensor>.pb files:
# the per-node references of `ondine test --bisect DIR`. Interprets the graph node by node
# with torch.nn.functional (an implementation independent of ondine's), on the inputs of one
# data set of a backend-test folder. Names: characters other than [A-Za-z0-9._-] become '_',
# as ondine test reads them. Limits: the CNN ops of the model sweep and a few shape ops,
# 1-D/2-D Conv and pooling, no auto_pad; an op outside them stops it with its name.
# Usage: dump_intermediates.py FOLDER --out DIR [--set K]   (run with /usr/bin/python3)
import argparse
import os
import re
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pad_spatial(x, pads, value):
    """ONNX pads (all begins, then all ends) applied with F.pad (last dim first)."""
    n = len(pads) // 2
    spec = []
    for d in reversed(range(n)):
        spec += [pads[d], pads[d + n]]
    return F.pad(x, spec, value=value) if any(spec) else x


def conv(x, w, b, a):
    n = x.dim() - 2
    x = pad_spatial(x, a.get("pads", [0] * 2 * n), 0.0)
    f = F.conv1d if n == 1 else F.conv2d
    return f(x, w, b, stride=a.get("strides", 1), dilation=a.get("dilations", 1),
             groups=a.get("group", 1))


def pool(x, a, kind):
    n = x.dim() - 2
    k = a["kernel_shape"]
    s = a.get("strides", [1] * n)
    ceil = bool(a.get("ceil_mode", 0))
    pads = a.get("pads", [0] * 2 * n)
    if kind == "max":
        x = pad_spatial(x, pads, float("-inf"))
        f = F.max_pool1d if n == 1 else F.max_pool2d
        return f(x, k, s, dilation=a.get("dilations", 1), ceil_mode=ceil)
    f = F.avg_pool1d if n == 1 else F.avg_pool2d
    if a.get("count_include_pad", 0):
        return f(pad_spatial(x, pads, 0.0), k, s, ceil_mode=ceil)
    sym = all(pads[d] == pads[d + n] and pads[d] <= k[d] // 2 for d in range(n))
    if not sym:
        sys.exit("AveragePool with asymmetric pads is not handled here")
    return f(x, k, s, padding=pads[:n], ceil_mode=ceil, count_include_pad=False)


def run_node(node, ins):
    a = attrs(node)
    op = node.op_type
    x = ins[0] if ins else None
    if op == "Conv":
        return conv(x, ins[1], ins[2] if len(ins) > 2 else None, a)
    if op == "BatchNormalization":
        return F.batch_norm(x, ins[3], ins[4], ins[1], ins[2], False, 0.0,
                            a.get("epsilon", 1e-5))
    if op == "Relu":
        return F.relu(x)
    if op == "LeakyRelu":
        return F.leaky_relu(x, a.get("alpha", 0.01))
    if op == "Sigmoid":
        return torch.sigmoid(x)
    if op == "HardSigmoid":
        return torch.clamp(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0, 1)
    if op == "HardSwish":
        return F.hardswish(x)
    if op == "Clip":
        lo = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("min")
        hi = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("max")
        lo = float(lo) if lo is not None else None
        hi = float(hi) if hi is not None else None
        return torch.clamp(x, lo, hi)
    if op in ("Add", "Sum"):
        return sum(ins[1:], ins[0])
    if op == "Sub":
        return ins[0] - ins[1]
    if op == "Mul":
        return ins[0] * ins[1]
    if op == "Div":
        return ins[0] / ins[1]
    if op == "MaxPool":
        return pool(x, a, "max")
    if op == "AveragePool":
        return pool(x, a, "avg")
    if op == "GlobalAveragePool":
        return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
    if op == "GlobalMaxPool":
        return x.amax(dim=tuple(range(2, x.dim())), keepdim=True)
    if op == "Flatten":
        axis = a.get("axis", 1) % max(x.dim(), 1)
        return x.reshape(int(np.prod(x.shape[:axis])), -1)
    if op == "Gemm":
        A = ins[0].t() if a.get("transA", 0) else ins[0]
        B = ins[1].t() if a.get("transB", 0) else ins[1]
        y = a.get("alpha", 1.0) * (A @ B)
        return y + a.get("beta", 1.0) * ins[2] if len(ins) > 2 and ins[2] is not None else y
    if op == "MatMul":
        return ins[0] @ ins[1]
    if op == "Concat":
        return torch.cat(ins, dim=a["axis"])
    if op == "Softmax":
        return F.softmax(x, dim=a.get("axis", -1))
    if op in ("Dropout", "Identity"):
        return x
    if op == "Constant":
        return torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
    if op == "Shape":
        return torch.tensor(list(x.shape), dtype=torch.int64)
    if op == "Gather":
        return torch.index_select(x, a.get("axis", 0), ins[1].reshape(-1)).reshape(
            x.shape[:a.get("axis", 0)] + ins[1].shape + x.shape[a.get("axis", 0) + 1:])
    if op == "Unsqueeze":
        axes = a["axes"] if "axes" in a else ins[1].tolist()
        for ax in sorted(axes):
            x = x.unsqueeze(ax)
        return x
    if op == "Reshape":
        shape = [int(s) if s != 0 else x.shape[i] for i, s in enumerate(ins[1].tolist())]
        return x.reshape(shape)
    if op == "Transpose":
        return x.permute(a.get("perm", list(reversed(range(x.dim())))))
    sys.exit(f"dump_intermediates: op {op} is not handled")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder", help="a backend-test folder (model.onnx, test_data_set_K)")
    p.add_argument("--out", required=True)
    p.add_argument("--set", type=int, default=0)
    args = p.parse_args()
    model = onnx.load(os.path.join(args.folder, "model.onnx"))
    g = model.graph
    vals = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
    inputs = [i.name for i in g.input if i.name not in vals]
    sd = os.path.join(args.folder, f"test_data_set_{args.set}")
    for k, name in enumerate(inputs):
        t = onnx.load_tensor(os.path.join(sd, f"input_{k}.pb"))
        vals[name] = torch.from_numpy(numpy_helper.to_array(t).copy())
    os.makedirs(args.out, exist_ok=True)
    with torch.no_grad():
        for node in g.node:
            ins = [vals[n] if n else None for n in node.input]
            out = run_node(node, ins)
            vals[node.output[0]] = out
            arr = out.numpy()
            t = numpy_helper.from_array(arr, node.output[0])
            path = os.path.join(args.out, re.sub(r"[^A-Za-z0-9._-]", "_", node.output[0]))
            with open(path + ".pb", "wb") as f:
                f.write(t.SerializeToString())
    print(f"{args.out}: {len(g.node)} tensors")


if __name__ == "__main__":
    main()
