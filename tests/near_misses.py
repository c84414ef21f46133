"""A small ONNX model with one near miss of each fusion pass (tests/inspect_why_not.py,
tests/inspect_html.py): build(path) writes it and returns the model, its output names and the
rejections expected, (pass, nodes, words of the rule it breaks)."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(path):
    rng = np.random.default_rng(0)
    inits, nodes = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))

    def conv(name, x, y):
        const(f"{name}_w", rng.uniform(-0.5, 0.5, (3, 3, 3, 3)).astype(np.float32))
        nodes.append(helper.make_node("Conv", [x, f"{name}_w"], [y], name, pads=[1, 1, 1, 1]))

    def node(op, name, ins, outs):
        nodes.append(helper.make_node(op, ins.split(","), outs.split(","), name))

    # The near misses, each with (pass, nodes, words of the rule it breaks).
    conv("c1", "x", "y1")          # its output has two readers: the BN cannot fold
    for p, v in (("scale", 1.2), ("beta", 0.1), ("mean", 0.2), ("var", 0.9)):
        const(f"bn1_{p}", np.full(3, v, np.float32))
    node("BatchNormalization", "bn1", "y1,bn1_scale,bn1_beta,bn1_mean,bn1_var", "o1")
    node("Relu", "r1", "y1", "o1r")
    conv("c2", "x", "y2")          # a graph output: the Sigmoid cannot join it
    node("Sigmoid", "sig2", "y2", "o2")
    conv("c3", "x", "y3")          # the add's other operand is computed after the Conv
    node("Relu", "late3", "x", "s3")
    node("Add", "add3", "y3,s3", "o3")
    node("Relu", "pre4", "x", "s4")  # a shortcut that is a graph output
    conv("c4", "x", "y4")
    node("Add", "add4", "y4,s4", "o4")
    node("Relu", "a5", "x", "p5")  # an add whose sum is a graph output: its Relu stays
    node("Relu", "b5", "x", "q5")
    node("Add", "add5", "p5,q5", "z5")
    node("Relu", "r5", "z5", "o5")
    node("Flatten", "flat6", "x", "f6")  # the flattened tensor is a graph output
    const("w6", rng.uniform(-1, 1, (75, 4)).astype(np.float32))
    node("Gemm", "gemm6", "f6,w6", "o6")
    conv("c7", "x", "y7")          # a Clip whose bound comes at run time
    node("Clip", "clip7", "y7,lo7", "o7")
    const("s9", np.float32(0.05))  # a QDQ pair whose dequantized value is a graph output
    const("z9", np.uint8(0))
    node("QuantizeLinear", "q9", "s3,s9,z9", "qv9")
    node("DequantizeLinear", "dq9", "qv9,s9,z9", "o9")
    # Not candidates: labels show their constants' values.
    const("two", np.float32(2))
    node("Mul", "mul10", "x,two", "o10")
    const("zero", np.float32(0))
    const("six", np.float32(6))
    node("Clip", "clip11", "p5,zero,six", "o11")
    WANT = [("fold_batchnorm", ["c1", "bn1"], "has one reader"),
            ("fuse_activation", ["c1", "r1"], "has one reader"),
            ("fuse_activation", ["c2", "sig2"], "not a graph output"),
            ("fuse_residual_add", ["c3", "add3"], "made before the Conv"),
            ("fuse_residual_add", ["c4", "add4"], "not a graph output"),
            ("fuse_add_activation", ["add5", "r5"], "not a graph output"),
            ("fuse_inner_product", ["flat6", "gemm6"], "not a graph output"),
            ("fuse_activation", ["c7", "clip7"], "Clip's bounds"),
            ("fold_qdq", ["q9"], "DequantizeLinear output")]

    outs = ["o1", "o1r", "y2", "o2", "o3", "s4", "o4", "z5", "o5", "f6", "o6", "o7", "o9", "o10",
            "o11"]
    graph = helper.make_graph(
        nodes, "near_misses",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 5, 5]),
         helper.make_tensor_value_info("lo7", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, path)
    return model, outs, WANT
