#!/usr/bin/python3
"""Seed corpora for the fuzz targets (tests/fuzz/fuzz_targets.c), written into the build tree:
a sample of the ONNX backend node-test models (Debian's libonnx-testdata) whose ops ondine
runs, and small generated ResNet blocks. OUT/load and OUT/session get model files; OUT/run gets
the fuzz_run format: 4-byte little-endian model length, the model, then input bytes (the
node test's own input data, or random bytes for the ResNet blocks).
Usage: make_seeds.py OUT_DIR"""
import glob
import os
import re
import struct
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

TESTDATA = "/usr/share/libonnx-testdata/data/node"
OPS = ("conv_with|relu|leakyrelu|gather_[0-9n]|reshape|pad|maxpool|averagepool|globalaverage|"
       "globalmax|batchnorm|gemm|matmul_|softmax|concat|transpose|flatten|squeeze|unsqueeze|"
       "constantofshape|clip|add|mul|sub|div|sum|lrn|sigmoid|hardsigmoid|hardswish|dropout|"
       "identity|shape|cast_FLOAT_to")
MAX_MODEL = 8192
MAX_INPUT = 4096


def node_tests():
    """Every third matching node test (by name), small ones only: (name, model, inputs)."""
    dirs = sorted(d for d in glob.glob(os.path.join(TESTDATA, "test_*"))
                  if re.match(r"test_(%s)" % OPS, os.path.basename(d)))
    for d in dirs[::3]:
        path = os.path.join(d, "model.onnx")
        if not os.path.exists(path) or os.path.getsize(path) > MAX_MODEL:
            continue
        data = b""
        for pb in sorted(glob.glob(os.path.join(d, "test_data_set_0", "input_*.pb"))):
            t = onnx.TensorProto()
            with open(pb, "rb") as f:
                t.ParseFromString(f.read())
            try:
                data += numpy_helper.to_array(t).tobytes()
            except ValueError:  # not a plain tensor (sequence or optional tests)
                pass
        with open(path, "rb") as f:
            yield os.path.basename(d), f.read(), data[:MAX_INPUT]


def resnet_blocks(rng):
    """Tiny ResNet pieces on a symbolic batch: stem, basic block, downsampling block,
    bottleneck, head; opsets 11 and 13."""
    def conv(nodes, inits, x, cin, cout, k, stride, name):
        w = rng.standard_normal((cout, cin, k, k)).astype(np.float32) * 0.3
        inits.append(numpy_helper.from_array(w, name + "_w"))
        nodes.append(helper.make_node("Conv", [x, name + "_w"], [name], kernel_shape=[k, k],
                                      strides=[stride, stride], pads=[k // 2] * 4))
        return name

    def bn(nodes, inits, x, c, name):
        for p, v in (("s", 1 + 0.1 * rng.standard_normal(c)), ("b", 0.1 * rng.standard_normal(c)),
                     ("m", 0.1 * rng.standard_normal(c)), ("v", 1 + rng.random(c))):
            inits.append(numpy_helper.from_array(v.astype(np.float32), f"{name}_{p}"))
        nodes.append(helper.make_node("BatchNormalization",
                                      [x] + [f"{name}_{p}" for p in "sbmv"], [name]))
        return name

    def relu(nodes, x, name):
        nodes.append(helper.make_node("Relu", [x], [name]))
        return name

    def block(nodes, inits, x, cin, cout, stride, tag):
        a = relu(nodes, bn(nodes, inits, conv(nodes, inits, x, cin, cout, 3, stride, tag + "c1"),
                           cout, tag + "b1"), tag + "r1")
        b = bn(nodes, inits, conv(nodes, inits, a, cout, cout, 3, 1, tag + "c2"), cout, tag + "b2")
        if stride != 1 or cin != cout:
            x = bn(nodes, inits, conv(nodes, inits, x, cin, cout, 1, stride, tag + "p"), cout,
                   tag + "pb")
        nodes.append(helper.make_node("Add", [b, x], [tag + "sum"]))
        return relu(nodes, tag + "sum", tag + "out")

    def bottleneck(nodes, inits, x, c, tag):
        a = relu(nodes, conv(nodes, inits, x, c, c // 2, 1, 1, tag + "c1"), tag + "r1")
        b = relu(nodes, conv(nodes, inits, a, c // 2, c // 2, 3, 1, tag + "c2"), tag + "r2")
        d = conv(nodes, inits, b, c // 2, c, 1, 1, tag + "c3")
        nodes.append(helper.make_node("Add", [d, x], [tag + "sum"]))
        return relu(nodes, tag + "sum", tag + "out")

    def head(nodes, inits, x, c, classes):
        nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
        nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
        w = rng.standard_normal((classes, c)).astype(np.float32) * 0.3
        inits.append(numpy_helper.from_array(w, "fc_w"))
        inits.append(numpy_helper.from_array(np.zeros(classes, np.float32), "fc_b"))
        nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1))
        return "logits"

    def model(name, build, cin, hw, opset):
        nodes, inits = [], []
        out, cout, ohw = build(nodes, inits, "x")
        g = helper.make_graph(nodes, name,
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             ["N", cin, hw, hw])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                              inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        return name, m.SerializeToString()

    def stem(nodes, inits, x):
        c = relu(nodes, bn(nodes, inits, conv(nodes, inits, x, 3, 8, 3, 2, "stem"), 8, "stembn"),
                 "stemr")
        nodes.append(helper.make_node("MaxPool", [c], ["pool"], kernel_shape=[3, 3],
                                      strides=[2, 2], pads=[1, 1, 1, 1]))
        return "pool", 8, 4

    def tiny_resnet(nodes, inits, x):
        y, c, _ = stem(nodes, inits, x)
        y = block(nodes, inits, y, 8, 8, 1, "l1")
        y = block(nodes, inits, y, 8, 16, 2, "l2")
        return head(nodes, inits, y, 16, 10), 10, 1

    for opset in (11, 13):
        yield model(f"resnet_tiny_o{opset}", tiny_resnet, 3, 16, opset)
        yield model(f"resnet_stem_o{opset}", stem, 3, 16, opset)
        yield model(f"resnet_basic_o{opset}",
                    lambda n, i, x: (block(n, i, x, 8, 8, 1, "b"), 8, 8), 8, 8, opset)
        yield model(f"resnet_down_o{opset}",
                    lambda n, i, x: (block(n, i, x, 8, 16, 2, "d"), 16, 4), 8, 8, opset)
        yield model(f"resnet_bottleneck_o{opset}",
                    lambda n, i, x: (bottleneck(n, i, x, 16, "k"), 16, 8), 16, 8, opset)


def main():
    out = sys.argv[1]
    for stage in ("load", "session", "run"):
        os.makedirs(os.path.join(out, stage), exist_ok=True)
    rng = np.random.default_rng(0)
    seeds = [(n, m, d) for n, m, d in node_tests()]
    seeds += [(n, m, rng.standard_normal(256).astype(np.float32).tobytes())
              for n, m in resnet_blocks(rng)]
    for name, model, data in seeds:
        for stage in ("load", "session"):
            with open(os.path.join(out, stage, name), "wb") as f:
                f.write(model)
        with open(os.path.join(out, "run", name), "wb") as f:
            f.write(struct.pack("<I", len(model)) + model + data)
    print(f"make_seeds: {len(seeds)} seeds in {out}")


main()
