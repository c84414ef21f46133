#!/usr/bin/python3
# Builds a "Caffe2-style" opset-9 ResNet-50 with onnx.helper (no torch.onnx),
# the way old model-zoo graphs look: bias-free Conv + BatchNormalization,
# Sum for the residual add, Reshape(shape=[0,-1]) to flatten, Gemm(transB=1).
# Writes a backend-test folder; reference outputs come from
# torch.nn.functional on the same numpy weights, not from any ONNX runtime.
# Limits: seeded random weights, float32, stride on the first 1x1 conv of a
# downsampling block (original Caffe/MSRA ResNet v1, not torchvision's v1.5);
# weights are initializers only (not also listed as graph inputs).
import argparse
import collections
import os

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper


class Builder:
    """Emits ONNX nodes and runs the same layer in torch, side by side."""

    def __init__(self, rng):
        self.rng, self.nodes, self.inits = rng, [], []

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def conv_bn(self, x, ys, name, cin, cout, k, s, relu, gamma_scale=1.0):
        r = self.rng
        w = (r.standard_normal((cout, cin, k, k)) *
             np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
        scale = (r.uniform(0.5, 1.5, cout) * gamma_scale).astype(np.float32)
        bias = (r.standard_normal(cout) * 0.1).astype(np.float32)
        mean = (r.standard_normal(cout) * 0.1).astype(np.float32)
        var = r.uniform(0.5, 1.5, cout).astype(np.float32)
        p = k // 2
        self.nodes.append(helper.make_node(
            "Conv", [x, self.init(name + "_w", w)], [name],
            kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p]))
        bn = name + "_bn"
        self.nodes.append(helper.make_node(
            "BatchNormalization",
            [name, self.init(bn + "_s", scale), self.init(bn + "_b", bias),
             self.init(bn + "_rm", mean), self.init(bn + "_riv", var)],
            [bn], epsilon=1e-5))
        t = [torch.from_numpy(a) for a in (w, scale, bias, mean, var)]
        ys = [F.batch_norm(F.conv2d(y, t[0], stride=s, padding=p),
                           t[3], t[4], t[1], t[2], False, 0.0, 1e-5)
              for y in ys]
        if relu:
            return self.relu(bn), [F.relu(y) for y in ys]
        return bn, ys

    def relu(self, x):
        self.nodes.append(helper.make_node("Relu", [x], [x + "_relu"]))
        return x + "_relu"


def build(seed, inputs):
    b = Builder(np.random.default_rng(seed))
    ys = [torch.from_numpy(a) for a in inputs]
    x, ys = b.conv_bn("data", ys, "conv1", 3, 64, 7, 2, True)
    b.nodes.append(helper.make_node("MaxPool", [x], ["pool1"],
                                    kernel_shape=[3, 3], strides=[2, 2],
                                    pads=[1, 1, 1, 1]))
    x, ys = "pool1", [F.max_pool2d(y, 3, 2, 1) for y in ys]
    cin = 64
    for stage, (n, width) in enumerate(zip([3, 4, 6, 3], [64, 128, 256, 512])):
        for i in range(n):
            nm = f"res{stage + 2}{chr(ord('a') + i)}"
            s = 2 if i == 0 and stage > 0 else 1
            cout = width * 4
            if i == 0:
                sc, sys_ = b.conv_bn(x, ys, nm + "_branch1", cin, cout, 1, s,
                                     False)
            else:
                sc, sys_ = x, ys
            h, hs = b.conv_bn(x, ys, nm + "_branch2a", cin, width, 1, s, True)
            h, hs = b.conv_bn(h, hs, nm + "_branch2b", width, width, 3, 1,
                              True)
            # A small last gamma keeps the residual stream from doubling in
            # variance every block, so outputs stay O(1) after 16 blocks.
            h, hs = b.conv_bn(h, hs, nm + "_branch2c", width, cout, 1, 1,
                              False, gamma_scale=0.2)
            b.nodes.append(helper.make_node("Sum", [sc, h], [nm]))
            x = b.relu(nm)
            ys = [F.relu(a + c) for a, c in zip(sys_, hs)]
            cin = cout
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool5"]))
    ys = [F.adaptive_avg_pool2d(y, 1) for y in ys]
    shape = b.init("flatten_shape", np.array([0, -1], dtype=np.int64))
    b.nodes.append(helper.make_node("Reshape", ["pool5", shape], ["flat"]))
    ys = [y.reshape(y.shape[0], -1) for y in ys]
    w = (b.rng.standard_normal((1000, cin)) / np.sqrt(cin)).astype(np.float32)
    bias = (b.rng.standard_normal(1000) * 0.1).astype(np.float32)
    b.nodes.append(helper.make_node(
        "Gemm", ["flat", b.init("fc_w", w), b.init("fc_b", bias)], ["prob"],
        transB=1))
    ys = [F.linear(y, torch.from_numpy(w), torch.from_numpy(bias)) for y in ys]
    return b, [y.numpy() for y in ys]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batches", default="1,4")
    p.add_argument("--size", type=int, default=224)
    args = p.parse_args()
    batches = [int(v) for v in args.batches.split(",")]
    inputs = [np.random.default_rng(args.seed + k)
              .standard_normal((n, 3, args.size, args.size))
              .astype(np.float32) for k, n in enumerate(batches)]
    with torch.no_grad():
        b, outputs = build(args.seed, inputs)
    graph = helper.make_graph(
        b.nodes, "caffe2_resnet50",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT,
                                       ["N", 3, args.size, args.size])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT,
                                       ["N", 1000])],
        b.inits)
    model = helper.make_model(graph, producer_name="ondine-make_caffe2",
                              opset_imports=[helper.make_opsetid("", 9)])
    onnx.checker.check_model(model)
    d = os.path.join(args.out, "caffe2_resnet50_op9")
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    for k, (x, y) in enumerate(zip(inputs, outputs)):
        td = os.path.join(d, f"test_data_set_{k}")
        os.makedirs(td, exist_ok=True)
        for fn, arr, name in (("input_0.pb", x, "data"),
                              ("output_0.pb", y, "prob")):
            with open(os.path.join(td, fn), "wb") as f:
                f.write(numpy_helper.from_array(arr, name).SerializeToString())
    c = collections.Counter(n.op_type for n in model.graph.node)
    print(f"{d}: " + " ".join(f"{k}={v}" for k, v in c.most_common())
          + f" (output std per set: "
          + ", ".join(f"{float(y.std()):.3g}" for y in outputs) + ")")


if __name__ == "__main__":
    main()
