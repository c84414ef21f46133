"""gen.py: random valid ONNX graphs (opset 13) for the graph fuzzer, one per seed, biased toward
what ondine's passes and planner rewrite: Conv chains with foldable and unfoldable
BatchNormalization, residual blocks with identity and projection shortcuts, pre-activation
blocks (BN -> Relu -> Conv, BN kept), a tensor read by 2-4 consumers (a shortcut read after
its block, branches into a Concat), tensors that are both graph outputs and intermediates,
views (Reshape, Flatten, Squeeze, Unsqueeze) of tensors read later, broadcast binary ops,
pools with ceil_mode and padding, channel counts on and off multiples of 16, odd spatial
sizes, batch 1-3, Q/DQ pairs on activations and int8 weights behind DequantizeLinear.

Weights are scaled by fan-in and BatchNormalization statistics are drawn near the identity,
so activations stay O(1) and a wrong answer is not hidden under huge or vanishing values.
Limits: float32 NCHW 2-D convolution graphs only; no Softmax, MatMul, Transpose, Pad or LRN;
pool windows whose last ceil_mode window would start in the end padding are not drawn (ONNX
leaves their count open and runtimes disagree)."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class Builder:
    """A graph under construction: nodes in topological order, initializers and the shape
    of every float tensor."""

    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.shape = {}
        self.live = []      # 4-D tensors that later blocks may read again
        self.count = 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    def const(self, arr, prefix="w"):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(self, op, ins, shape, **attrs):
        out = self.name(op.lower()[:4] + "_")
        self.nodes.append(helper.make_node(op, ins, [out], name="n_" + out, **attrs))
        self.shape[out] = list(shape)
        return out

    def output(self, t):
        if t not in self.outputs:
            self.outputs.append(t)

    def chance(self, p):
        return self.rng.random() < p


def pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def channels(rng):
    return pick(rng, [4, 8, 13, 16, 17, 24, 32, 33, 48])


def conv_out(size, k, s, pb, pe, d=1):
    return (size + pb + pe - d * (k - 1) - 1) // s + 1


def conv(b, x, cout=None, k=None, stride=1, same=False, qweights=None):
    """Conv (weights scaled by fan-in; sometimes int8 weights behind DequantizeLinear)."""
    rng = b.rng
    n, c, h, w = b.shape[x]
    cout = cout or channels(rng)
    k = k or pick(rng, [1, 3, 3, 5])
    group = 1
    if not same and k == 3 and c == cout and c % 4 == 0 and b.chance(0.15):
        group = pick(rng, [c, 4])       # depthwise or grouped
    dil = 2 if (k == 3 and not same and min(h, w) >= 7 and b.chance(0.1)) else 1
    half = dil * (k - 1) // 2
    pads = [half, half, half, half] if same or b.chance(0.7) else \
        [int(v) for v in rng.integers(0, k, 4)]
    oh = conv_out(h, k, stride, pads[0], pads[2], dil)
    ow = conv_out(w, k, stride, pads[1], pads[3], dil)
    if oh < 1 or ow < 1:
        pads, stride, dil, k = [0, 0, 0, 0], 1, 1, 1
        oh, ow = h, w
    fan_in = (c // group) * k * k
    wt = rng.normal(0, 1, (cout, c // group, k, k)) * (1.2 / np.sqrt(fan_in))
    wt = wt.astype(np.float32)
    if qweights is None:
        qweights = b.chance(0.1)
    if qweights:    # int8 per output channel, DequantizeLinear axis 0 (a QDQ model's weights)
        scale = (np.abs(wt).reshape(cout, -1).max(1) / 127).astype(np.float32)
        q = np.clip(np.round(wt / scale[:, None, None, None]), -127, 127).astype(np.int8)
        wname = b.node("DequantizeLinear", [b.const(q, "wq"), b.const(scale, "ws"),
                                            b.const(np.zeros(cout, np.int8), "wz")],
                       wt.shape, axis=0)
    else:
        wname = b.const(wt)
    ins = [x, wname]
    if b.chance(0.7):
        ins.append(b.const(rng.normal(0, 0.2, cout).astype(np.float32), "b"))
    attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=pads)
    if group > 1:
        attrs["group"] = group
    if dil > 1:
        attrs["dilations"] = [dil, dil]
    return b.node("Conv", ins, [n, cout, oh, ow], **attrs)


def bn(b, x):
    rng = b.rng
    c = b.shape[x][1]
    f = lambda lo, hi: rng.uniform(lo, hi, c).astype(np.float32)
    scale = f(0.5, 1.5) * np.where(rng.random(c) < 0.1, -1, 1).astype(np.float32)
    ins = [x, b.const(scale, "g"), b.const(rng.normal(0, 0.3, c).astype(np.float32), "beta"),
           b.const(rng.normal(0, 0.3, c).astype(np.float32), "mean"), b.const(f(0.5, 2.0), "var")]
    return b.node("BatchNormalization", ins, b.shape[x], epsilon=float(pick(rng, [1e-5, 1e-3])))


def act(b, x):
    kind = pick(b.rng, ["Relu", "Relu", "Relu", "Sigmoid", "Clip", "LeakyRelu"])
    if kind == "Clip":
        lo, hi = pick(b.rng, [(0.0, 6.0), (-1.0, 1.0), (0.0, 1.5)])
        return b.node("Clip", [x, b.const(np.float32(lo), "lo"), b.const(np.float32(hi), "hi")],
                      b.shape[x])
    if kind == "LeakyRelu":
        return b.node("LeakyRelu", [x], b.shape[x], alpha=0.1)
    return b.node(kind, [x], b.shape[x])


def conv_bn_act(b, x):
    """Conv [-> BN (foldable, or unfoldable when the Conv's output is read again)] [-> act]."""
    y = conv(b, x, stride=2 if min(b.shape[x][2:]) >= 6 and b.chance(0.25) else 1)
    if b.chance(0.6):
        if b.chance(0.3):       # the Conv's output is also read: fold_batchnorm must not fold
            b.output(y) if b.chance(0.5) else b.live.append(y)
        y = bn(b, y)
    if b.chance(0.7):
        y = act(b, y)
    return y


def view_of(b, x):
    """A view of x with x's shape (Reshape there and back, or Unsqueeze then Squeeze)."""
    n, c, h, w = b.shape[x]
    if b.chance(0.5):
        target = pick(b.rng, [[n, c, h * w], [0, -1], [n, c * h, w]])
        mid = b.node("Reshape", [x, b.const(np.array(target, np.int64), "shp")],
                     [n, c * h * w] if target == [0, -1] else target)
        return b.node("Reshape", [mid, b.const(np.array([n, c, h, w], np.int64), "shp")],
                      [n, c, h, w])
    ax = pick(b.rng, [0, 2, 4])
    mid = b.node("Unsqueeze", [x, b.const(np.array([ax], np.int64), "ax")],
                 [n, c, h, w][:ax] + [1] + [n, c, h, w][ax:])
    return b.node("Squeeze", [mid, b.const(np.array([ax], np.int64), "ax")], [n, c, h, w])


def add(b, p, q):
    if b.chance(0.5):
        p, q = q, p
    if b.chance(0.15):
        return b.node("Sum", [p, q], b.shape[p])
    return b.node("Add", [p, q], b.shape[p])


def residual(b, x):
    """conv-bn-relu-conv-bn + shortcut (identity, a view, or a 1x1 projection) -> Add [-> Relu]."""
    n, c, h, w = b.shape[x]
    stride = 2 if min(h, w) >= 6 and b.chance(0.3) else 1
    cout = c if stride == 1 and b.chance(0.6) else channels(b.rng)
    y = conv(b, x, cout, 3, stride, same=True)
    y = act(b, bn(b, y)) if b.chance(0.8) else act(b, y)
    y = conv(b, y, cout, 3, 1, same=True)
    if b.chance(0.7):
        y = bn(b, y)
    if stride == 1 and cout == c:
        sc = view_of(b, x) if b.chance(0.25) else x
    else:
        sc = conv(b, x, cout, 1, stride, same=True)
        if b.chance(0.5):
            sc = bn(b, sc)
    if b.chance(0.3):
        b.output(sc)            # the shortcut is also a graph output
    if b.chance(0.3):
        b.live.append(x)        # the block input is read again after the block
    y = add(b, y, sc)
    return act(b, y) if b.chance(0.7) else y


def preact(b, x):
    """ResNet v2: t = Relu(BN(x)); y = conv(relu(bn(conv(t)))); shortcut x or a projection of
    t; Add. The BN has no Conv before it, so it stays (batchnorm_scale_shift)."""
    n, c, h, w = b.shape[x]
    t = b.node("Relu", [bn(b, x)], [n, c, h, w])
    stride = 2 if min(h, w) >= 6 and b.chance(0.3) else 1
    cout = c if stride == 1 and b.chance(0.6) else channels(b.rng)
    y = conv(b, t, cout, 3, stride, same=True, qweights=False)
    y = b.node("Relu", [bn(b, y)], b.shape[y])
    y = conv(b, y, cout, 3, 1, same=True, qweights=False)
    sc = x if stride == 1 and cout == c else conv(b, t, cout, 1, stride, same=True)
    if b.chance(0.25):
        b.output(sc)
    if b.chance(0.25):
        b.live.append(x)
    return add(b, y, sc)


def branches(b, x):
    """2-4 branches of x (conv, pool, activation, or x itself) into a Concat on channels."""
    n, c, h, w = b.shape[x]
    outs = []
    for _ in range(int(b.rng.integers(2, 5))):
        kind = pick(b.rng, ["conv", "conv", "maxpool", "relu", "self"])
        if kind == "conv":
            y = conv(b, x, pick(b.rng, [4, 8, 12, 16]), pick(b.rng, [1, 3]), same=True)
            outs.append(act(b, y) if b.chance(0.5) else y)
        elif kind == "maxpool":
            outs.append(b.node("MaxPool", [x], [n, c, h, w], kernel_shape=[3, 3],
                               pads=[1, 1, 1, 1]))
        elif kind == "relu":
            outs.append(b.node("Relu", [x], [n, c, h, w]))
        else:
            outs.append(x)
    if sum(b.shape[o][1] for o in outs) > 96:
        outs = outs[:2]
    return b.node("Concat", outs, [n, sum(b.shape[o][1] for o in outs), h, w], axis=1)


def pool(b, x):
    """MaxPool or AveragePool: kernel 2-3, stride 1-2, pads below the kernel, ceil_mode, and
    count_include_pad; redrawn while the last ceil_mode window would start past the input and
    begin padding (below)."""
    n, c, h, w = b.shape[x]
    op = pick(b.rng, ["MaxPool", "AveragePool"])
    for _ in range(20):
        k = int(b.rng.integers(2, 4))
        s = int(b.rng.integers(1, 3))
        pads = [int(v) for v in b.rng.integers(0, k, 4)]
        ceil = int(b.chance(0.5))
        dims = []
        for size, pb, pe in ((h, pads[0], pads[2]), (w, pads[1], pads[3])):
            span = size + pb + pe - k
            o = (-(-span // s) if ceil else span // s) + 1
            if span < 0 or (o - 1) * s >= size + pb:
                break
            dims.append(o)
        if len(dims) == 2:
            attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=pads, ceil_mode=ceil)
            if op == "AveragePool" and b.chance(0.5):
                attrs["count_include_pad"] = 1
            return b.node(op, [x], [n, c] + dims, **attrs)
    return b.node("Relu", [x], [n, c, h, w])


def binary(b, x):
    """x (op) a broadcast constant, or (op) another live tensor of x's shape."""
    n, c, h, w = b.shape[x]
    op = pick(b.rng, ["Add", "Mul", "Sub", "Div", "Add", "Mul"])
    same = [t for t in b.live if b.shape[t] == [n, c, h, w]]
    if same and op in ("Add", "Mul", "Sub") and b.chance(0.5):
        other = pick(b.rng, same)
    else:
        shape = pick(b.rng, [[c, 1, 1], [1, c, 1, 1], [1], [w], [1, 1, h, w], [h, 1], [n, c, h, w]])
        if op == "Div" or op == "Mul":
            v = b.rng.uniform(0.5, 1.5, shape) * np.where(b.rng.random(shape) < 0.2, -1, 1)
        else:
            v = b.rng.normal(0, 0.5, shape)
        other = b.const(v.astype(np.float32), "k")
    ins = [x, other] if op == "Div" or b.chance(0.6) else [other, x]
    return b.node(op, ins, [n, c, h, w])


def qdq(b, x):
    """QuantizeLinear -> DequantizeLinear on an activation: uint8 with a zero point, or int8."""
    if b.chance(0.5):
        zp = np.uint8(pick(b.rng, [0, 100, 128]))
    else:
        zp = np.int8(pick(b.rng, [0, -3, 10]))
    scale = np.float32(pick(b.rng, [0.01, 0.02, 0.05]))
    s, z = b.const(scale, "qs"), b.const(zp, "qz")
    q = b.node("QuantizeLinear", [x, s, z], b.shape[x])
    return b.node("DequantizeLinear", [q, s, z], b.shape[x])


def views(b, x):
    """A view of x read as a graph output while x goes on (Flatten, Reshape, Unsqueeze)."""
    n, c, h, w = b.shape[x]
    kind = pick(b.rng, ["Flatten", "Reshape", "Unsqueeze"])
    if kind == "Flatten":
        v = b.node("Flatten", [x], [n, c * h * w], axis=1)
    elif kind == "Reshape":
        v = b.node("Reshape", [x, b.const(np.array([n, -1, w], np.int64), "shp")], [n, c * h, w])
    else:
        v = b.node("Unsqueeze", [x, b.const(np.array([1], np.int64), "ax")], [n, 1, c, h, w])
    if b.chance(0.5):
        b.output(v)
        return x
    return view_of(b, x)


BLOCKS = [(conv_bn_act, 3), (residual, 3), (preact, 2), (branches, 1.5), (pool, 1.5),
          (binary, 1.5), (qdq, 0.8), (views, 1)]


def head(b, x):
    """GlobalAveragePool -> Flatten -> Gemm [-> Relu -> Gemm], or Flatten -> Gemm."""
    n, c, h, w = b.shape[x]
    if c * h * w <= 1024 and b.chance(0.4):
        f = b.node("Flatten", [x], [n, c * h * w], axis=1)
    else:
        g = b.node("GlobalAveragePool", [x], [n, c, 1, 1])
        if b.chance(0.3):
            f = b.node("Reshape", [g, b.const(np.array([n, c], np.int64), "shp")], [n, c])
        else:
            f = b.node("Flatten", [g], [n, c], axis=1)
    for i in range(int(b.rng.integers(1, 3))):
        k, m = b.shape[f][1], pick(b.rng, [10, 16, 7])
        wt = (b.rng.normal(0, 1, (m, k)) / np.sqrt(k)).astype(np.float32)
        ins = [f, b.const(wt)]
        if b.chance(0.8):
            ins.append(b.const(b.rng.normal(0, 0.2, m).astype(np.float32), "b"))
        f = b.node("Gemm", ins, [n, m], transB=1)
        if i == 0 and b.chance(0.5):
            f = b.node("Relu", [f], [n, m])
    return f


def generate(seed):
    """The model for a seed (the same ONNX bytes every time) and its batch size."""
    rng = np.random.default_rng(seed)
    b = Builder(rng)
    n = int(rng.integers(1, 4))
    c = pick(rng, [1, 3, 4, 8, 16])
    h, w = int(rng.integers(5, 20)), int(rng.integers(5, 20))
    x = "x"
    b.shape[x] = [n, c, h, w]
    symbolic = b.chance(0.3)
    b.inputs.append(helper.make_tensor_value_info(x, TensorProto.FLOAT,
                                                  ["N" if symbolic else n, c, h, w]))
    if b.chance(0.2):       # a second input, added to the stem
        b.shape["y"] = [n, c, h, w]
        b.inputs.append(helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                      ["N" if symbolic else n, c, h, w]))
        x = b.node("Add", [x, "y"], [n, c, h, w])
    if c < 4 or b.chance(0.5):
        x = conv_bn_act(b, x)
    fns, weights = zip(*BLOCKS)
    p = np.array(weights) / sum(weights)
    for _ in range(int(rng.integers(2, 7))):
        x = fns[int(rng.choice(len(fns), p=p))](b, x)
        if b.shape[x][1] > 64:
            x = conv(b, x, channels(rng), 1)
        if b.chance(0.15):
            b.output(x)         # an intermediate that is also a graph output
    if b.live and b.chance(0.5):    # a tensor read long after it was made
        same = [t for t in b.live if b.shape[t] == b.shape[x]]
        if same:
            x = add(b, x, pick(rng, same))
        else:
            b.output(pick(rng, b.live))
    if b.chance(0.6):
        x = head(b, x)
    b.output(x)
    outs = []
    for t in b.outputs:
        shape = list(b.shape[t])
        if symbolic:
            shape[0] = "N"
        outs.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, shape))
    graph = helper.make_graph(b.nodes, f"graphfuzz_{seed}", b.inputs, outs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="graphfuzz")
    model.ir_version = 7
    helper.set_model_props(model, {"graphfuzz_seed": str(seed), "graphfuzz_batch": str(n)})
    return model
