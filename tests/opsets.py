#!/usr/bin/python3
"""Opsets 18 to 26 and IR versions 8 to 11 (issue 15, part 1), and model-local functions.

Models are built with onnx.helper (onnx 1.12 writes any opset number; its checker knows
opsets up to 17 only, so it is not run) and their outputs compared with numpy hand
computations, and with ONNX Runtime 1.30 (onnxruntime-node in BUILD/node, which `make bench`
installs) when it is there. Also: the types ondine does not compute refused at load naming
type and node, IR 12 and opset 27 refused, and function inlining against the same model
written flat, with recursion and call bombs refused.
Usage: opsets.py WORK_DIR   (env: PYTHONPATH=python, ONDINE_LIBRARY, ONDINE_BUILD_DIR)"""
import ctypes
import os
import sys

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                                "models"))
import ondine  # noqa: E402
import ort_oracle  # noqa: E402
from ondine._lib import lib  # noqa: E402
from ondine.session import Error, _options  # noqa: E402

work = sys.argv[1]
os.makedirs(work, exist_ok=True)
build = os.environ["ONDINE_BUILD_DIR"]
have_ort = ort_oracle.modules(build) is not None
print("ONNX Runtime:", "build/node" if have_ort else "not installed (numpy references only)")
rng = np.random.default_rng(15)
OPSETS = [18, 19, 21, 22, 23, 25, 26]
compared = {"numpy": 0, "ort": 0}


def vi(name, dtype=TensorProto.FLOAT, shape=None):
    return helper.make_tensor_value_info(name, dtype, shape)


def save(name, nodes, inputs, outputs, inits=(), opset=18, ir=8, functions=()):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    imports = [helper.make_opsetid("", opset)] + \
        [helper.make_opsetid(d, 1) for d in sorted({f.domain for f in functions})]
    m = helper.make_model(g, opset_imports=imports)
    m.ir_version = ir
    m.functions.extend(functions)
    path = os.path.join(work, f"{name}_op{opset}_ir{ir}.onnx")
    onnx.save(m, path)
    return path


def check(path, feeds, want, rtol=1e-5, atol=1e-5, levels=(0, 2), ort=True):
    """ondine at -O0 and -O2 against numpy's want (a list), and ONNX Runtime when present
    (and ort). Tolerances: float32 summation order only (measured below 2e-6)."""
    for level in levels:
        got = ondine.InferenceSession(path, threads=1, optimization_level=level).run(None, feeds)
        assert len(got) == len(want), (path, len(got))
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype, (path, g.shape, w.shape, g.dtype)
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=path)
    compared["numpy"] += 1
    if have_ort and ort:
        for o, w in zip(ort_oracle.run(build, path, feeds), want):
            np.testing.assert_allclose(o, w, rtol=rtol, atol=atol, err_msg=path + " (ORT)")
        compared["ort"] += 1


def refused(model_bytes, *substrs, max_nodes=0):
    """Loading fails with a message holding every substring."""
    opts = _options(1, 2, "fp32", ())
    if max_nodes:
        opts.max_nodes = max_nodes
    err, model = Error(), ctypes.c_void_p()
    st = lib.ond_model_load_buffer(model_bytes, len(model_bytes), ctypes.byref(opts),
                                   ctypes.byref(model), ctypes.byref(err))
    msg = err.message.decode()
    assert st != 0, f"loaded, expected an error with {substrs}"
    assert all(s in msg for s in substrs), (msg, substrs)
    return msg


# ---- a small CNN at every opset and IR: Conv, BatchNormalization, Relu, MaxPool, Pad with
# axes (18), AveragePool, GlobalAveragePool, Flatten, Gemm, Softmax ----
def conv2d(x, w, b, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    out = np.zeros((x.shape[0], w.shape[0], xp.shape[2] - k + 1, xp.shape[3] - k + 1),
                   np.float64)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.einsum("nchw,ochw->no", xp[:, :, i:i + k, j:j + k], w)
    return out + b[None, :, None, None]


def pool(x, k, s, op):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = op(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


w1 = rng.standard_normal((6, 3, 3, 3)).astype(np.float32) * 0.3
b1 = rng.standard_normal(6).astype(np.float32)
scale, bias = rng.uniform(0.5, 1.5, 6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
mean, var = rng.standard_normal(6).astype(np.float32), rng.uniform(0.5, 2, 6).astype(np.float32)
gw = rng.standard_normal((4, 6)).astype(np.float32)
gb = rng.standard_normal(4).astype(np.float32)
x = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)
y = conv2d(x.astype(np.float64), w1, b1, 1)
y = (y - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5) \
    * scale[None, :, None, None] + bias[None, :, None, None]
y = pool(np.maximum(y, 0), 2, 2, np.max)                                 # 6x6
y = np.pad(y, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")          # 8x8
y = pool(y, 2, 2, np.mean)                                               # 4x4
y = y.mean(axis=(2, 3)) @ gw.T + gb
y = np.exp(y - y.max(axis=1, keepdims=True))
cnn_want = (y / y.sum(axis=1, keepdims=True)).astype(np.float32)
for k, opset in enumerate(OPSETS):
    ir = 8 + k % 4
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["bn"]),
             helper.make_node("Relu", ["bn"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Pad", ["mp", "pads", "", "axes"], ["pd"], mode="reflect"),
             helper.make_node("AveragePool", ["pd"], ["ap"], kernel_shape=[2, 2],
                              strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["ap"], ["ga"]),
             helper.make_node("Flatten", ["ga"], ["f"]),
             helper.make_node("Gemm", ["f", "gw", "gb"], ["g"], transB=1),
             helper.make_node("Softmax", ["g"], ["y"])]
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w1, "w1"), (b1, "b1"), (scale, "s"), (bias, "bb"), (mean, "m"), (var, "v"),
              (gw, "gw"), (gb, "gb"), (np.array([1, 1, 1, 1], np.int64), "pads"),
              (np.array([2, 3], np.int64), "axes")]]
    path = save("cnn", nodes, [vi("x", shape=["N", 3, 12, 12])], [vi("y")], inits, opset, ir)
    check(path, {"x": x}, [cnn_want], rtol=1e-4, atol=1e-5)

# ---- the versions after 18 that change semantics ----
xs = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
for opset in [19, 21, 23, 25, 26]:
    # Pad-19: wrap
    pads = numpy_helper.from_array(np.array([0, 0, 2, 1, 0, 0, 1, 3], np.int64), "p")
    path = save("pad_wrap", [helper.make_node("Pad", ["x", "p"], ["y"], mode="wrap")],
                [vi("x", shape=[1, 2, 5, 6])], [vi("y")], [pads], opset, 9)
    check(path, {"x": xs}, [np.pad(xs, ((0, 0), (0, 0), (2, 1), (1, 3)), mode="wrap")])
    # AveragePool-19: dilations (window 2x2 at dilation 2: rows i, i+2)
    path = save("avgpool_dil", [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2],
                                                 dilations=[2, 2])],
                [vi("x", shape=[1, 2, 5, 6])], [vi("y")], [], opset, 10)
    want = (xs[:, :, :-2, :-2] + xs[:, :, 2:, :-2] + xs[:, :, :-2, 2:] + xs[:, :, 2:, 2:]) / 4
    check(path, {"x": xs}, [want])

# Cast-19+ with saturate (read; it only matters for float8), Shape start/end, Reshape
# allowzero, Squeeze/Unsqueeze/Transpose/Identity at their type-only versions.
for opset in [19, 21, 23, 25]:
    nodes = [helper.make_node("Cast", ["x"], ["xi"], to=TensorProto.INT32),
             helper.make_node("Cast", ["xi"], ["xf"], to=TensorProto.FLOAT),
             helper.make_node("Shape", ["x"], ["sh"], start=1, end=-1),
             helper.make_node("Reshape", ["xf", "rs"], ["r"], allowzero=0),
             helper.make_node("Unsqueeze", ["r", "ax0"], ["u"]),
             helper.make_node("Squeeze", ["u", "ax0"], ["sq"]),
             helper.make_node("Transpose", ["sq"], ["t"], perm=[1, 0, 2]),
             helper.make_node("Identity", ["t"], ["y"])]
    inits = [numpy_helper.from_array(np.array([0, -1, 6], np.int64), "rs"),
             numpy_helper.from_array(np.array([0], np.int64), "ax0")]
    path = save("shapes", nodes, [vi("x", shape=[1, 2, 5, 6])],
                [vi("y"), vi("sh", TensorProto.INT64)], inits, opset, 11)
    xc = xs * 4
    r = np.trunc(xc).astype(np.float32).reshape(1, -1, 6)
    check(path, {"x": xc}, [r.transpose(1, 0, 2), np.array([2, 5], np.int64)])

# saturate on a cast to a non-float8 type: ONNX lets it be (it has no effect), ONNX Runtime
# 1.30 refuses it ("only used for cast to float 8 types"), so numpy is the only oracle.
for opset in [19, 25]:
    path = save("cast_saturate", [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT8,
                                                   saturate=0)],
                [vi("x", shape=[1, 2, 5, 6])], [vi("y", TensorProto.INT8)], [], opset, 9)
    check(path, {"x": xs * 4}, [np.trunc(xs * 4).astype(np.int8)], ort=False)

# QuantizeLinear / DequantizeLinear 21+: blocked quantization along axis 1 (block 4 over 10:
# 3 scales), output_dtype; 19's saturate read.
xq = rng.standard_normal((3, 10)).astype(np.float32) * 4
sc = rng.uniform(0.02, 0.1, (3, 3)).astype(np.float32)
zp = rng.integers(-20, 20, (3, 3)).astype(np.int8)
sc_full, zp_full = np.repeat(sc, 4, axis=1)[:, :10], np.repeat(zp, 4, axis=1)[:, :10]
q_want = np.clip(np.rint(xq / sc_full) + zp_full, -128, 127).astype(np.int8)
dq_want = ((q_want.astype(np.float32) - zp_full) * sc_full).astype(np.float32)
for opset in [21, 23, 25]:
    nodes = [helper.make_node("QuantizeLinear", ["x", "sc", "zp"], ["q"], axis=1, block_size=4,
                              output_dtype=TensorProto.INT8, saturate=1),
             helper.make_node("DequantizeLinear", ["q", "sc", "zp"], ["y"], axis=1,
                              block_size=4)]
    inits = [numpy_helper.from_array(sc, "sc"), numpy_helper.from_array(zp, "zp")]
    path = save("qdq_blocked", nodes, [vi("x", shape=[3, 10])],
                [vi("q", TensorProto.INT8), vi("y")], inits, opset, 10)
    check(path, {"x": xq}, [q_want, dq_want], rtol=1e-6, atol=1e-6)
# output_dtype alone sets QuantizeLinear's type (no zero point): uint8, per tensor.
path = save("q_output_dtype",
            [helper.make_node("QuantizeLinear", ["x", "s1"], ["y"], output_dtype=TensorProto.UINT8)],
            [vi("x", shape=[3, 10])], [vi("y", TensorProto.UINT8)],
            [numpy_helper.from_array(np.array(0.05, np.float32), "s1")], 21, 10)
check(path, {"x": xq}, [np.clip(np.rint(xq / np.float32(0.05)), 0, 255).astype(np.uint8)])

# tools/models/restamp.py's opset 18 signature changes (ReduceMean axes to an input, Split's
# num_outputs), which ondine's own ops do not exercise: the restamped model in ONNX Runtime.
import restamp  # noqa: E402
if have_ort:
    g = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["m"], axes=[2, 3], keepdims=0),
         helper.make_node("Split", ["m"], ["a", "b"], axis=1)],
        "r17", [vi("x", shape=[1, 2, 5, 6])], [vi("a"), vi("b")])
    m17 = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    path = os.path.join(work, "restamped_op18.onnx")
    onnx.save(restamp.restamp(m17, 18, 9), path)
    got = ort_oracle.run(build, path, {"x": xs})
    want = xs.mean(axis=(2, 3))
    np.testing.assert_allclose(got[0], want[:, :1], rtol=1e-6)
    np.testing.assert_allclose(got[1], want[:, 1:], rtol=1e-6)
    compared["ort"] += 1

# ---- refusals ----
def model_bytes(nodes, inputs, outputs, inits=(), opset=21, ir=10):
    g = helper.make_graph(nodes, "r", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    return m.SerializeToString()


ident = ([helper.make_node("Relu", ["x"], ["y"])], [vi("x", shape=[2])], [vi("y")])
refused(model_bytes(*ident, ir=12), "IR version 12", "3 to 11")
refused(model_bytes(*ident, opset=27), "opset 27", "1..26")
for to, name in [(17, "float8e4m3fn"), (19, "float8e5m2"), (21, "uint4"), (22, "int4"),
                 (23, "float4e2m1")]:
    refused(model_bytes([helper.make_node("Cast", ["x"], ["y"], name="c8", to=to)], *ident[1:]),
            "node 'c8' (Cast)", name)
# A float8 initializer into DequantizeLinear: its data type patched in the serialized tensor
# (onnx 1.12 has no float8 enum); the node reading it is named.
w8 = numpy_helper.from_array(np.zeros(4, np.uint8), "w8")
good = model_bytes([helper.make_node("DequantizeLinear", ["w8", "s"], ["y"], name="dq8")],
                   [], [vi("y")], [w8, numpy_helper.from_array(np.array(1, np.float32), "s")])
tb = w8.SerializeToString()
assert tb.count(b"\x10\x02") == 1
refused(good.replace(tb, tb.replace(b"\x10\x02", b"\x10\x11")), "node 'dq8' (DequantizeLinear)",
        "'w8'", "float8e4m3fn")
kval = numpy_helper.from_array(np.zeros(4, np.uint8), "v")
good = model_bytes([helper.make_node("Constant", [], ["y"], name="k8", value=kval)], [], [vi("y")])
tb = kval.SerializeToString()
refused(good.replace(tb, tb.replace(b"\x10\x02", b"\x10\x13")),
        "node 'k8' (Constant): attribute 'value' has type float8e5m2")
refused(model_bytes([helper.make_node("Pad", ["x", "p"], ["y"], mode="wrap")],
                    [vi("x", shape=[2])], [vi("y")],
                    [numpy_helper.from_array(np.array([1, 1], np.int64), "p")], opset=18),
        "'wrap' is not supported at opset 18")
refused(model_bytes([helper.make_node("QuantizeLinear", ["x", "s"], ["y"], name="q16",
                                      output_dtype=TensorProto.INT16)],
                    [vi("x", shape=[2])], [vi("y")],
                    [numpy_helper.from_array(np.array(1, np.float32), "s")]),
        "node 'q16'", "int16")


# ---- model-local functions ----
def ref(name, attr_type, as_name=None):
    a = AttributeProto()
    a.name, a.ref_attr_name, a.type = as_name or name, name, attr_type
    return a


def function(name, inputs, outputs, nodes, attributes=(), defaults=()):
    f = onnx.FunctionProto()
    f.name, f.domain = name, "local"
    f.input.extend(inputs)
    f.output.extend(outputs)
    f.node.extend(nodes)
    f.attribute.extend(attributes)
    f.opset_import.extend([helper.make_opsetid("", 21), helper.make_opsetid("local", 1)])
    data = f.SerializeToString()
    for d in defaults:  # FunctionProto.attribute_proto (field 11, IR 9): newer than onnx 1.12
        b = d.SerializeToString()
        data += bytes([11 << 3 | 2]) + bytes([len(b)]) + b
    f2 = onnx.FunctionProto()
    f2.ParseFromString(data)
    return f2


# Inner(x, b) = LeakyRelu(x + b, alpha = slope); Outer(x, b) = Inner(x * k, b) - x, with k
# a Constant from Outer's attribute `k` and Inner's slope from Outer's `slope` (default 0.1).
leaky = helper.make_node("LeakyRelu", ["s"], ["y"])
leaky.attribute.append(ref("slope", AttributeProto.FLOAT, "alpha"))
inner = function("Inner", ["x", "b"], ["y"], [helper.make_node("Add", ["x", "b"], ["s"]), leaky],
                 ["slope"])
kconst = helper.make_node("Constant", [], ["k"])
kconst.attribute.append(ref("k", AttributeProto.FLOAT, "value_float"))
call_inner = helper.make_node("Inner", ["xk", "b"], ["t"], domain="local")
call_inner.attribute.append(ref("slope", AttributeProto.FLOAT))
outer = function("Outer", ["x", "b"], ["y"],
                 [kconst, helper.make_node("Mul", ["x", "k"], ["xk"]), call_inner,
                  helper.make_node("Sub", ["t", "x"], ["y"])], ["k", "slope"],
                 [helper.make_attribute("slope", 0.1)])
xf = rng.standard_normal((2, 5)).astype(np.float32)
bf = rng.standard_normal(5).astype(np.float32)


def outer_np(x, k, slope):
    s = x * np.float32(k) + bf
    return (np.where(s > 0, s, s * np.float32(slope)) - x).astype(np.float32)


calls = [helper.make_node("Outer", ["x", "b"], ["h"], domain="local", k=2.0, slope=0.3),
         helper.make_node("Outer", ["h", "b"], ["y"], domain="local", k=-1.5)]
fn_path = save("functions", calls, [vi("x", shape=[2, 5])], [vi("y")],
               [numpy_helper.from_array(bf, "b")], 21, 10, [outer, inner])
flat = [helper.make_node("Constant", [], ["k1"], value_float=2.0),
        helper.make_node("Mul", ["x", "k1"], ["xk1"]),
        helper.make_node("Add", ["xk1", "b"], ["s1"]),
        helper.make_node("LeakyRelu", ["s1"], ["t1"], alpha=0.3),
        helper.make_node("Sub", ["t1", "x"], ["h"]),
        helper.make_node("Constant", [], ["k2"], value_float=-1.5),
        helper.make_node("Mul", ["h", "k2"], ["xk2"]),
        helper.make_node("Add", ["xk2", "b"], ["s2"]),
        helper.make_node("LeakyRelu", ["s2"], ["t2"], alpha=0.1),
        helper.make_node("Sub", ["t2", "h"], ["y"])]
flat_path = save("flat", flat, [vi("x", shape=[2, 5])], [vi("y")],
                 [numpy_helper.from_array(bf, "b")], 21, 10)
fn_want = outer_np(outer_np(xf, 2.0, 0.3), -1.5, 0.1)
check(flat_path, {"x": xf}, [fn_want])
check(fn_path, {"x": xf}, [fn_want], rtol=1e-6, atol=1e-6)
got = ondine.InferenceSession(fn_path, threads=1).run(None, {"x": xf})[0]
flat_got = ondine.InferenceSession(flat_path, threads=1).run(None, {"x": xf})[0]
np.testing.assert_array_equal(got, flat_got)


# Overloads (IR 10: NodeProto.overload, FunctionProto.overload; newer than onnx 1.12, so the
# fields are appended to the serialized messages): one name, two bodies, picked per call.
def with_field(msg, field, text):
    data = msg.SerializeToString() + bytes([field << 3 | 2, len(text)]) + text.encode()
    out = type(msg)()
    out.ParseFromString(data)
    return out


act_relu = with_field(function("Act", ["x"], ["y"], [helper.make_node("Relu", ["x"], ["y"])]),
                      13, "relu")
act_sig = with_field(function("Act", ["x"], ["y"], [helper.make_node("Sigmoid", ["x"], ["y"])]),
                     13, "sigmoid")
path = save("overloads",
            [with_field(helper.make_node("Act", ["x"], ["h"], domain="local"), 8, "sigmoid"),
             with_field(helper.make_node("Act", ["h"], ["y"], domain="local"), 8, "relu")],
            [vi("x", shape=[2, 5])], [vi("y")], [], 21, 10, [act_relu, act_sig])
check(path, {"x": xf}, [np.maximum(1 / (1 + np.exp(-xf)), 0).astype(np.float32)])


def fn_model(functions, nodes, opset=21):
    g = helper.make_graph(nodes, "f", [vi("x", shape=[2])], [vi("y")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset),
                                            helper.make_opsetid("local", 1)])
    m.ir_version = 10
    m.functions.extend(functions)
    return m.SerializeToString()


rec = function("Loop", ["x"], ["y"], [helper.make_node("Loop", ["x"], ["y"], domain="local")])
refused(fn_model([rec], [helper.make_node("Loop", ["x"], ["y"], domain="local", name="top")]),
        "function 'Loop' calls itself", "recursion")
# Ten levels of ten calls each: 10^10 nodes if expanded; refused at the node limit.
bomb = [function("F0", ["x"], ["y"], [helper.make_node("Relu", ["x"], ["y"])])]
for lvl in range(1, 10):
    body = [helper.make_node(f"F{lvl - 1}", ["x" if i == 0 else f"t{i - 1}"],
                             ["y" if i == 9 else f"t{i}"], domain="local") for i in range(10)]
    bomb.append(function(f"F{lvl}", ["x"], ["y"], body))
refused(fn_model(bomb, [helper.make_node("F9", ["x"], ["y"], domain="local")]),
        "inlining the functions takes more than 5000 nodes", max_nodes=5000)
# 100 nested levels: refused at the nesting limit (64).
deep = [function("D0", ["x"], ["y"], [helper.make_node("Relu", ["x"], ["y"])])] + \
    [function(f"D{i}", ["x"], ["y"], [helper.make_node(f"D{i - 1}", ["x"], ["y"], domain="local")])
     for i in range(1, 100)]
refused(fn_model(deep, [helper.make_node("D99", ["x"], ["y"], domain="local")]),
        "function calls nest deeper than 64 levels")
refused(fn_model([function("Bad", ["x"], ["y"], [helper.make_node("Relu", ["x"], ["y"])])],
                 [helper.make_node("Bad", ["x", "x"], ["y"], domain="local", name="b2")]),
        "node 'b2' calls function 'Bad' with 2 inputs")

assert compared["numpy"] == 30, compared
print(f"opsets: ok ({compared['numpy']} models against numpy, {compared['ort']} against ONNX "
      "Runtime)")
