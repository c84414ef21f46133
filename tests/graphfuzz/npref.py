"""npref.py: the graph fuzzer's own reference, a numpy evaluator written from the ONNX operator
specification (opset 13) for the ops gen.py draws, independent of ondine's code. Float tensors
are computed in float64; QuantizeLinear divides and rounds (half to even) in float32 as the
spec's x / y_scale on float inputs, so its rounding is that of a float32 runtime. Limits: 2-D
convolution and pooling (NCHW), no auto_pad, Reshape without allowzero.

With a `track` dict, run() also gives, per output, what fuzz.py's measures need (README.md):
  flip   how far a float32 runtime that is right within (atol, rtol) may be from the reference
         by rounding a QuantizeLinear input the other way: an element whose x / scale lies
         within that error (in steps) of a rounding tie may move a step, and the bound of each
         element is carried through the ops after it (|W| through a Conv or Gemm, the mean
         through pooling, a sum through Add): zero where no tie is within reach.
  scale  the largest |value| of the output, or more where values before a Clip or Sigmoid
         reach it: such an op bounds the values, not the error made before them. The scale
         passes through views, Concat and MaxPool unchanged and through an
         elementwise op with a constant with its gain (Mul: max |k|), the bound of where an
         error of that size goes; an op that computes from many values or from two
         activations (Conv, Gemm, pooling, Add of two tensors) starts afresh from its own
         output, and so do Relu (whose negative inputs can be the largest: carrying them hid
         finding N in seed 469785187) and a Q/DQ pair.
  scale_pairs  the same with Q/DQ pairs passing the scale like a Clip, for runtimes that run
         every pair as its ops (bf16 sessions); an int8 session's folded form could drop a
         pair's saturation, which the larger scale would hide (finding N, seed 469785187).
  range  [lo, hi] of the pair whose DequantizeLinear makes the output, else None: there a
         saturation dropped shows directly (fuzz.py checks it), so scale_pairs is safe."""
import numpy as np
from onnx import numpy_helper

QRANGE = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127)}
# Ops whose output's scale is also their input's: those that bound values (and so cut the
# output's range, not the error made before them) and those that only move values. A Q/DQ
# pair saturates like a Clip: its DequantizeLinear joins them for scale_pairs only (the top).
BOUNDING = {"Clip", "Sigmoid", "QuantizeLinear", "MaxPool", "Concat", "Reshape", "Flatten",
            "Squeeze", "Unsqueeze", "Identity"}


def _attrs(node):
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _windows(xp, kh, kw, sh, sw, dh=1, dw=1):
    """[N, C, OH, OW, kh, kw] windows of a padded NCHW array."""
    v = np.lib.stride_tricks.sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1),
                                                 axis=(2, 3))
    return v[:, :, ::sh, ::sw, ::dh, ::dw]


def conv(x, w, b, a):
    kh, kw = w.shape[2:]
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    p = a.get("pads", [0, 0, 0, 0])
    g = a.get("group", 1)
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    win = _windows(xp, kh, kw, sh, sw, dh, dw)
    n, c, oh, ow = win.shape[:4]
    win = win.reshape(n, g, c // g, oh, ow, kh, kw)
    wg = w.reshape(g, w.shape[0] // g, c // g, kh, kw)
    y = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True).reshape(n, -1, oh, ow)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def pool(x, a, op):
    """MaxPool / AveragePool with pads and ceil_mode; ceil_mode windows reach past the end
    padding, where nothing is read or counted (count_include_pad counts the pads only)."""
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    p = a.get("pads", [0, 0, 0, 0])
    ceil = a.get("ceil_mode", 0)
    n, c, h, w = x.shape
    outs, extra = [], []
    for size, k, s, pb, pe in ((h, kh, sh, p[0], p[2]), (w, kw, sw, p[1], p[3])):
        span = size + pb + pe - k
        o = (-(-span // s) if ceil else span // s) + 1
        outs.append(o)
        extra.append(max(0, (o - 1) * s + k - (size + pb + pe)))
    pad = ((0, 0), (0, 0), (p[0], p[2] + extra[0]), (p[1], p[3] + extra[1]))
    if op == "MaxPool":
        xp = np.pad(x, pad, constant_values=-np.inf)
        return _windows(xp, kh, kw, sh, sw).max(axis=(4, 5))[:, :, :outs[0], :outs[1]]
    xp = np.pad(x, pad)
    if a.get("count_include_pad", 0):
        ones = np.pad(np.ones((1, 1, h + p[0] + p[2], w + p[1] + p[3])),
                      ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    else:
        ones = np.pad(np.ones((1, 1, h, w)), pad)
    s = _windows(xp, kh, kw, sh, sw).sum(axis=(4, 5))
    cnt = _windows(ones, kh, kw, sh, sw).sum(axis=(4, 5))
    return (s / cnt)[:, :, :outs[0], :outs[1]]


def _axis_shape(x, v, axis):
    """A per-axis parameter v shaped to broadcast along x's axis (a scalar stays)."""
    if v.ndim == 0:
        return v
    shape = [1] * x.ndim
    shape[axis] = -1
    return v.reshape(shape)


def quantize(x, scale, zp, axis=1):
    lo, hi = QRANGE[zp.dtype]
    q = np.rint(x.astype(np.float32) / _axis_shape(x, scale.astype(np.float32), axis))
    return np.clip(q + _axis_shape(x, zp.astype(np.float64), axis), lo, hi).astype(zp.dtype)


def dequantize(q, scale, zp, axis=1):
    zp = np.zeros((), q.dtype) if zp is None else zp
    return ((q.astype(np.float64) - _axis_shape(q, zp.astype(np.float64), axis)) *
            _axis_shape(q, scale.astype(np.float64), axis))


def reshape(x, shape):
    shape = [x.shape[i] if d == 0 else int(d) for i, d in enumerate(shape)]
    return x.reshape(shape)


def _flip(op, a, i, e, y, atol, rtol):
    """The flip bound of node op's output y (see the top), from its inputs i and theirs, e
    (None: zero, as for constants)."""
    if all(v is None for v in e):
        if op != "QuantizeLinear":
            return None
        e = [np.zeros(())] + e[1:]
    z = [np.zeros(np.shape(v)) if f is None and v is not None else f for v, f in zip(i, e)]
    absi = [None if v is None else np.abs(v) for v in i]
    if op in ("Relu", "Clip", "Identity"):
        return z[0]
    if op == "Sigmoid":
        return 0.25 * z[0]
    if op == "LeakyRelu":
        return max(1.0, abs(a.get("alpha", 0.01))) * z[0]
    if op == "BatchNormalization":
        g, var = i[1], i[4]
        return z[0] * np.abs(g / np.sqrt(var + a.get("epsilon", 1e-5))).reshape(
            1, -1, *([1] * (i[0].ndim - 2)))
    if op in ("Add", "Sub", "Sum"):
        return sum(z)
    if op == "Mul":
        return z[0] * absi[1] + absi[0] * z[1] + z[0] * z[1]
    if op == "Div":
        den = absi[1] - z[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, (z[0] + np.abs(y) * z[1]) / den, np.inf)
    if op == "Conv":
        return conv(z[0], absi[1], None, a) + conv(absi[0] + z[0], z[1], None, a)
    if op == "Gemm":
        A, B, EA, EB = absi[0], absi[1], z[0], z[1]
        if a.get("transA", 0):
            A, EA = A.T, EA.T
        if a.get("transB", 0):
            B, EB = B.T, EB.T
        f = abs(a.get("alpha", 1.0)) * (EA @ B + (A + EA) @ EB)
        return f + abs(a.get("beta", 1.0)) * z[2] if len(z) > 2 and z[2] is not None else f
    if op == "MaxPool":
        return pool(z[0], a, "MaxPool")
    if op == "AveragePool":
        return pool(z[0], a, "AveragePool")
    if op == "GlobalAveragePool":
        return z[0].mean(axis=tuple(range(2, z[0].ndim)), keepdims=True)
    if op == "Concat":
        return np.concatenate([np.broadcast_to(f, v.shape) for v, f in zip(i, z)], axis=a["axis"])
    if op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
        return np.broadcast_to(z[0], i[0].shape).reshape(y.shape)
    if op == "QuantizeLinear":
        # In steps: the ties within reach of x / scale (the runtime's own error plus e).
        s = _axis_shape(i[0], i[1].astype(np.float64), a.get("axis", 1))
        x = i[0].astype(np.float32) / _axis_shape(i[0], i[1].astype(np.float32),
                                                   a.get("axis", 1))
        reach = (atol + rtol * absi[0] + z[0]) / s
        dist = np.abs(x - np.floor(x) - 0.5)
        return np.where(dist <= reach, np.floor(reach - dist) + 1, 0.0)
    if op == "DequantizeLinear":
        return z[0] * _axis_shape(i[0], np.abs(i[1].astype(np.float64)), a.get("axis", 1))
    raise NotImplementedError(f"npref: no flip bound for {op}")


def _carry(op, a, names, i, scale, pairs):
    """The scale an op's output takes from its inputs' (see the top; pairs: scale_pairs): the
    bound of the error an error of relative size 1 at that scale becomes through it; 0 for the
    ops that start afresh."""
    s = [scale.get(n, 0.0) for n in names]
    peak = [0.0 if v is None else float(np.abs(v).max(initial=0)) for v in i]
    if op in BOUNDING or (pairs and op == "DequantizeLinear"):
        return max(s)
    if op not in ("Add", "Sub", "Mul", "Div") or min(s) > 0:
        return 0.0      # two activations: their own values
    k = 1 - s.index(0.0)     # the activation's side
    if op in ("Add", "Sub"):
        return s[k]
    if op == "Mul":
        return s[k] * peak[1 - k]
    den = float(np.abs(i[1]).min(initial=np.inf))
    return s[0] / den if k == 0 and den > 0 else 0.0


def run(model, feeds, track=None, atol=0.0, rtol=0.0):
    """Every graph output of model (onnx.ModelProto) for feeds {name: array}, in graph order;
    with a dict track, track["flip"], ["scale"] and ["scale_pairs"] get the outputs' flip
    bounds (for a runtime right within |d| <= atol + rtol |ref|) and scales (see the top)."""
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env.update({k: np.asarray(v, np.float64) if v.dtype == np.float32 else v
                for k, v in feeds.items()})
    flip = {}
    scale = {k: float(np.abs(v).max(initial=0)) for k, v in feeds.items()
             if v.dtype == np.float32}
    scale_pairs = dict(scale)
    qrange = {}
    for node in model.graph.node:
        a = _attrs(node)
        i = [env[n] if n else None for n in node.input]
        i = [v.astype(np.float64) if v is not None and v.dtype == np.float32 else v for v in i]
        op = node.op_type
        if op == "Conv":
            y = conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "BatchNormalization":
            x, g, beta, mean, var = i
            sh = lambda v: v.reshape(1, -1, *([1] * (x.ndim - 2)))
            y = (x - sh(mean)) / np.sqrt(sh(var) + a.get("epsilon", 1e-5)) * sh(g) + sh(beta)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-i[0]))
        elif op == "LeakyRelu":
            y = np.where(i[0] < 0, a.get("alpha", 0.01) * i[0], i[0])
        elif op == "Clip":
            y = i[0]
            if len(i) > 1 and i[1] is not None:
                y = np.maximum(y, i[1])
            if len(i) > 2 and i[2] is not None:
                y = np.minimum(y, i[2])
        elif op in ("Add", "Sub", "Mul", "Div"):
            y = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                 "Div": np.divide}[op](i[0], i[1])
        elif op == "Sum":
            y = sum(i)
        elif op in ("MaxPool", "AveragePool"):
            y = pool(i[0], a, op)
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=tuple(range(2, i[0].ndim)), keepdims=True)
        elif op == "Concat":
            y = np.concatenate(i, axis=a["axis"])
        elif op == "Reshape":
            y = reshape(i[0], i[1])
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Squeeze":
            y = np.squeeze(i[0], axis=tuple(int(v) for v in i[1]))
        elif op == "Unsqueeze":
            y = i[0]
            for ax in sorted(int(v) % (i[0].ndim + len(i[1])) for v in i[1]):
                y = np.expand_dims(y, ax)
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                y = y + a.get("beta", 1.0) * i[2]
        elif op == "QuantizeLinear":
            y = quantize(i[0], i[1], i[2], a.get("axis", 1))
        elif op == "DequantizeLinear":
            y = dequantize(i[0], i[1], i[2] if len(i) > 2 else None, a.get("axis", 1))
            if i[1].size == 1 and i[0].dtype in QRANGE:
                lo, hi = QRANGE[i[0].dtype]
                zp = float(i[2].reshape(-1)[0]) if len(i) > 2 and i[2] is not None else 0.0
                qrange[node.output[0]] = (float(i[1]) * (lo - zp), float(i[1]) * (hi - zp))
        elif op == "Identity":
            y = i[0]
        else:
            raise NotImplementedError(f"npref: no {op}")
        env[node.output[0]] = y
        if track is not None:
            flip[node.output[0]] = _flip(op, a, i, [flip.get(n) for n in node.input], y,
                                         atol, rtol)
            own = [] if op == "QuantizeLinear" else [float(np.abs(y).max(initial=0))]
            # Not for a value computed from constants only (weights behind DQ).
            if any(n in scale for n in node.input):
                for sc, pairs in ((scale, False), (scale_pairs, True)):
                    sc[node.output[0]] = max([_carry(op, a, node.input, i, sc, pairs)] + own)
    outs = [o.name for o in model.graph.output]
    if track is not None:
        track["flip"] = [np.broadcast_to(flip[n], env[n].shape) if flip.get(n) is not None
                         else np.zeros(env[n].shape) for n in outs]
        track["scale"] = [scale.get(n, 0.0) for n in outs]
        track["scale_pairs"] = [scale_pairs.get(n, 0.0) for n in outs]
        track["range"] = [qrange.get(n) for n in outs]
    return [env[n] for n in outs]
