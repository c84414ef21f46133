#!/usr/bin/python3
"""The ops of FCN/DeepLabV3 heads, squeeze-and-excitation, MnasNet, ShuffleNet and ConvNeXt
against torch and numpy, through `ondine test` at -O2 (with --compare-levels) and -O0:
- a torch 1.13 model exported at opset 17 with dynamic batch (batches 1 and 2): nearest and
  bilinear upsampling (align_corners False and True), a squeeze-and-excitation block (mean
  over H, W -> 1x1 conv -> relu -> 1x1 conv -> sigmoid -> mul), ConvNeXt's permute ->
  LayerNorm -> permute, InstanceNorm2d, LogSoftmax and a mean over H, W -> Linear head;
  torch gives the outputs (torch's GroupNorm, Reshape -> InstanceNormalization -> Reshape to
  Shape(x), is left out: at -O0 the planner cannot give that Reshape a shape);
- single-op models built with onnx.helper for what torch does not export (GroupNormalization
  18 and 21, LpNormalization, GlobalLpPool, Resize 18/19 with axes, keep_aspect_ratio_policy
  and half_pixel_symmetric, reductions with constant axes and keepdims 0), references from
  torch or numpy computed here, independently of ondine;
- `ondine inspect --kernels` shows the torch model's Resize (nearest, bilinear without
  align_corners), ReduceMean, LayerNormalization and InstanceNormalization as oneDNN kernels;
- the same in a bf16 session, at ondine test's bf16 tolerance;
- refusals name node and attribute (antialias, num_groups not dividing C), and a hostile
  roi or scale gives an output or a clear error, never a crash.
Tolerance: ondine test's default (rtol 1e-3, atol 1e-5); the largest error measured on
these cases was 4.1e-6 (absolute), the same at -O0. ONNX Runtime 1.30
(onnxruntime-node) agrees with the references of the single-op cases within 4e-6.
Usage: netops_models.py ONDINE_BINARY WORK_DIR"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto

ondine, work = sys.argv[1:3]
root = os.path.join(work, "netops")
shutil.rmtree(root, ignore_errors=True)
os.makedirs(root)
rng = np.random.default_rng(0)
torch.manual_seed(0)
F = TensorProto.FLOAT


def save(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def write_sets(d, in_names, out_names, sets):
    for k, (ins, outs) in enumerate(sets):
        sd = os.path.join(d, f"test_data_set_{k}")
        os.makedirs(sd)
        for i, a in enumerate(ins):
            save(os.path.join(sd, f"input_{i}.pb"), a, in_names[i])
        for i, a in enumerate(outs):
            save(os.path.join(sd, f"output_{i}.pb"), a, out_names[i])


def case(name, node, x, y, opset, inits=(), extra_inputs=()):
    """A one-node test folder: input x (plus extra_inputs as (name, array) graph inputs),
    expected output y, constant inits as (name, array)."""
    d = os.path.join(root, "ops", name)
    os.makedirs(d)
    ins = [("x", x)] + list(extra_inputs)
    graph = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info(n, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
         for n, a in ins],
        [helper.make_tensor_value_info("y", F, y.shape)],
        [numpy_helper.from_array(a, n) for n, a in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, os.path.join(d, "model.onnx"))
    write_sets(d, [n for n, _ in ins], ["y"], [([a for _, a in ins], [y])])


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# ---- the torch model ----
class SE(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = torch.nn.Conv2d(c, c // 4, 1)
        self.fc2 = torch.nn.Conv2d(c // 4, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.se = SE(16)
        self.ln = torch.nn.LayerNorm(16)
        self.inorm = torch.nn.InstanceNorm2d(16, affine=True)
        self.head = torch.nn.Conv2d(16, 5, 1)
        self.fc = torch.nn.Linear(16, 4)
        for m in (self.ln, self.inorm):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.uniform_(m.bias, -0.5, 0.5)

    def forward(self, x):
        f = self.se(torch.relu(self.conv(x)))
        f = self.ln(f.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        up = torch.nn.functional.interpolate(f, scale_factor=2, mode="nearest")
        bi = torch.nn.functional.interpolate(f, scale_factor=2, mode="bilinear",
                                             align_corners=False)
        ac = torch.nn.functional.interpolate(f, scale_factor=2, mode="bilinear",
                                             align_corners=True)
        g = self.inorm(up + bi)
        logits = self.head(g)
        # MnasNet's and ShuffleNet's head: mean over H, W without keepdim -> Linear.
        return torch.log_softmax(logits, 1), ac, self.fc(torch.relu(g).mean((2, 3)))


net = Net().eval()
tdir = os.path.join(root, "torch", "netops_op17")
os.makedirs(tdir)
tmodel = os.path.join(tdir, "model.onnx")
with torch.no_grad():
    torch.onnx.export(net, torch.randn(1, 3, 8, 6), tmodel, opset_version=17,
                      input_names=["x"], output_names=["y", "ac", "fc"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}, "ac": {0: "n"},
                                    "fc": {0: "n"}})
    sets = []
    for b in (1, 2):
        x = torch.randn(b, 3, 8, 6)
        sets.append(([x.numpy()], [t.numpy() for t in net(x)]))
onnx.checker.check_model(onnx.load(tmodel))
write_sets(tdir, ["x"], ["y", "ac", "fc"], sets)
ops = {n.op_type for n in onnx.load(tmodel).graph.node}
for want in ("Resize", "ReduceMean", "LayerNormalization", "InstanceNormalization",
             "LogSoftmax"):
    if want not in ops:
        sys.exit(f"torch's export has no {want}: {sorted(ops)}")

# ---- single ops ----
x = randn(2, 6, 5, 4)
gw, gb = randn(3), randn(3)
ref = torch.nn.functional.group_norm(torch.from_numpy(x), 3, torch.from_numpy(np.repeat(gw, 2)),
                                     torch.from_numpy(np.repeat(gb, 2)), 1e-3).numpy()
case("group_norm_18", helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"],
                                       num_groups=3, epsilon=1e-3),
     x, ref, 18, [("s", gw), ("b", gb)])
cw, cb = randn(6), randn(6)
ref = torch.nn.functional.group_norm(torch.from_numpy(x), 2, torch.from_numpy(cw),
                                     torch.from_numpy(cb)).numpy()
case("group_norm_21", helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"],
                                       num_groups=2), x, ref, 21, [("s", cw), ("b", cb)])
for p in (1, 2):
    for axis in (1, -1):
        ref = torch.nn.functional.normalize(torch.from_numpy(x), p=p, dim=axis, eps=0).numpy()
        case(f"lp_norm_p{p}_axis{axis}", helper.make_node("LpNormalization", ["x"], ["y"], p=p,
                                                          axis=axis), x, ref, 1)
for p in (1, 2, 3):
    ref = (np.abs(x.astype(np.float64)) ** p).sum((2, 3), keepdims=True) ** (1 / p)
    case(f"global_lp_pool_p{p}", helper.make_node("GlobalLpPool", ["x"], ["y"], p=p), x,
         ref.astype(np.float32), 2)
# Reductions with constant axes (oneDNN), keepdims 0 (a view), an axes input at 18.
x64 = x.astype(np.float64)
for name, f in (("Mean", np.mean), ("Sum", np.sum), ("Max", np.max), ("Min", np.min),
                ("L1", lambda a, axis, keepdims: np.abs(a).sum(axis, keepdims=keepdims)),
                ("L2", lambda a, axis, keepdims: np.sqrt((a * a).sum(axis, keepdims=keepdims))),
                ("SumSquare", lambda a, axis, keepdims: (a * a).sum(axis, keepdims=keepdims)),
                ("LogSumExp", lambda a, axis, keepdims:
                 np.log(np.exp(a).sum(axis, keepdims=keepdims)))):
    for keep in (0, 1):
        ref = f(x64, axis=(2, 3), keepdims=bool(keep)).astype(np.float32)
        case(f"reduce_{name.lower()}_hw_keep{keep}",
             helper.make_node(f"Reduce{name}", ["x", "axes"], ["y"], keepdims=keep), x, ref,
             18, [("axes", np.array([2, -1], np.int64))])
        case(f"reduce_{name.lower()}_c_keep{keep}_op11",
             helper.make_node(f"Reduce{name}", ["x"], ["y"], keepdims=keep, axes=[1]), x,
             f(x64, axis=1, keepdims=bool(keep)).astype(np.float32), 11)
ref = np.prod(x64[:, :3], axis=(0, 2)).astype(np.float32)
case("reduce_prod_keep0", helper.make_node("ReduceProd", ["x"], ["y"], keepdims=0, axes=[0, 2]),
     x[:, :3].copy(), ref, 13)
# Resize with constant scales or sizes: torch computes what oneDNN must match; 18/19's
# attributes against a linear interpolation written here.
xr = randn(2, 3, 5, 4)
empty = np.zeros(0, np.float32)
for mode, ctm, tmode, align in (("nearest", "asymmetric", "nearest", None),
                                ("linear", "half_pixel", "bilinear", False),
                                ("linear", "pytorch_half_pixel", "bilinear", False),
                                ("linear", "align_corners", "bilinear", True)):
    for size in ((10, 8), (15, 12), (3, 2), (10, 5)):
        if mode == "nearest" and size[0] % 5:
            continue
        ref = torch.nn.functional.interpolate(torch.from_numpy(xr), size=size, mode=tmode,
                                              align_corners=align).numpy()
        node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode=mode,
                                coordinate_transformation_mode=ctm, nearest_mode="floor")
        case(f"resize_{mode}_{ctm}_{size[0]}x{size[1]}", node, xr, ref, 13,
             [("sizes", np.array((2, 3) + size, np.int64))])
ref = torch.nn.functional.interpolate(torch.from_numpy(xr), scale_factor=(2, 3),
                                      mode="nearest").numpy()
case("upsample_7", helper.make_node("Upsample", ["x"], ["y"], scales=[1., 1., 2., 3.]), xr, ref,
     7)
case("resize_10_scales", helper.make_node("Resize", ["x", "scales"], ["y"]), xr, ref, 10,
     [("scales", np.array([1, 1, 2, 3], np.float32))])


def lin_axis(a, axis, n_out, coord):
    """Linear interpolation along axis to n_out positions; position i reads coord(i), edges
    repeated (as ONNX's linear mode)."""
    n_in = a.shape[axis]
    res = []
    for i in range(n_out):
        c = min(max(coord(i), 0), n_in - 1)
        f = int(np.floor(c))
        g = min(f + 1, n_in - 1)
        res.append(np.take(a, f, axis) * (1 - (c - f)) + np.take(a, g, axis) * (c - f))
    return np.stack(res, axis)


# keep_aspect_ratio_policy: one scale s for both axes (the smaller or larger of sizes / in),
# out = round(s * in), and the half_pixel transform with that s (as ONNX Runtime).
x64 = xr.astype(np.float64)
for policy, sizes in (("not_larger", [6, 7]), ("not_smaller", [7, 9])):
    r = (sizes[0] / 4, sizes[1] / 5)
    sc = min(r) if policy == "not_larger" else max(r)
    out_h, out_w = int(np.floor(5 * sc + 0.5)), int(np.floor(4 * sc + 0.5))
    ref = lin_axis(lin_axis(x64, 2, out_h, lambda i: (i + 0.5) / sc - 0.5), 3, out_w,
                   lambda i: (i + 0.5) / sc - 0.5).astype(np.float32)
    case(f"resize_18_axes_{policy}",
         helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear", axes=[3, 2],
                          keep_aspect_ratio_policy=policy), xr, ref, 18,
         [("sizes", np.array(sizes, np.int64))])
# Upsample 9 and Resize 10: the asymmetric transform x / s; nearest rounds up when the dim
# shrinks (ONNX Runtime's rule; ondine matched ONNX Runtime 1.30 on torch's opset 9 and 10
# exports within 6e-7).
ref = lin_axis(lin_axis(x64, 2, 10, lambda i: i / 2), 3, 6, lambda i: i / 1.5)
case("upsample_9_linear", helper.make_node("Upsample", ["x", "scales"], ["y"], mode="linear"),
     xr, ref.astype(np.float32), 9, [("scales", np.array([1, 1, 2, 1.5], np.float32))])
ref = xr[:, :, [0, 2, 4]][:, :, :, [0, 2]]    # x / 0.6 = 0, 1.67, 3.33 -> 0, 2, 4 (ceil)
case("resize_10_nearest_shrink", helper.make_node("Resize", ["x", "scales"], ["y"]), xr, ref,
     10, [("scales", np.array([1, 1, 0.6, 0.6], np.float32))])
# half_pixel_symmetric (19): x_ori = c (1 - out / (in * s)) + (x + 0.5) / s - 0.5, c = in / 2.
s = 1.7
out_h, out_w = int(5 * s), int(4 * s)
ref = lin_axis(lin_axis(x64, 2, out_h, lambda i: 5 / 2 * (1 - out_h / (5 * s)) + (i + .5) / s - .5),
               3, out_w, lambda i: 4 / 2 * (1 - out_w / (4 * s)) + (i + .5) / s - .5)
case("resize_19_half_pixel_symmetric",
     helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                      coordinate_transformation_mode="half_pixel_symmetric"),
     xr, ref.astype(np.float32), 19, [("scales", np.array([1, 1, s, s], np.float32))])


def run(*args):
    p = subprocess.run([ondine, *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


n_cases = len(os.listdir(os.path.join(root, "ops"))) + 1
# bf16: ondine test's bf16 tolerance (rtol 2e-2, atol 5e-2).
for level in (["--compare-levels"], ["-O0"], ["--precision", "bf16"]):
    rc, out = run("test", os.path.join(root, "ops"), os.path.join(root, "torch"), *level,
                  "--threads", "1")
    passed = [l for l in out.splitlines() if l.startswith("PASS")]
    # Opsets 19 and 21 load once the loader claims them; until then only those skip.
    later = [l for l in out.splitlines() if l.startswith("SKIP") and "beyond the supported" in l]
    if rc != 0 or len(passed) + len(later) != n_cases or len(later) > 2:
        sys.exit(f"ondine test {level}: exit {rc}, {len(passed)} of {n_cases} passed\n{out}")
    for l in later:
        print(l)

# The torch model's Resize (nearest, bilinear without align_corners), ReduceMeans (as
# pooling, on the layout the convolutions chose), LayerNorm and InstanceNorm run as oneDNN
# primitives at -O2 and batch 2.
rc, out = run("inspect", tmodel, "--kernels", "--json", "--batch", "2")
if rc:
    sys.exit(f"inspect --kernels: exit {rc}\n{out}")
kernels = json.loads(out)["kernels"]
prims = {}
for k in kernels:
    prims.setdefault(k["op"], []).append(not k["impl"].startswith("eval"))
for op, want in (("Resize", [True, True, False]), ("ReduceMean", [True, True]),
                 ("LayerNormalization", [True]), ("InstanceNormalization", [True])):
    if sorted(prims.get(op, [])) != sorted(want):
        sys.exit(f"{op}: oneDNN kernel per node {prims.get(op)}, expected {want}\n"
                 + "\n".join(f"{k['op']} {k['node']}: {k['impl']}" for k in kernels))

# Refusals name node and attribute.
bad = os.path.join(root, "bad")
os.makedirs(bad)
for name, node, opset, want in (
        ("antialias", helper.make_node("Resize", ["x", "", "scales"], ["y"], name="rs",
                                       mode="linear", antialias=1), 18, "'antialias'"),
        ("groups", helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], name="gn",
                                    num_groups=4), 18, "num_groups 4 does not divide")):
    graph = helper.make_graph(
        [node], name, [helper.make_tensor_value_info("x", F, [2, 6, 5, 4])],
        [helper.make_tensor_value_info("y", F, None)],
        [numpy_helper.from_array(np.array([1, 1, .5, .5], np.float32), "scales"),
         numpy_helper.from_array(np.ones(6, np.float32), "s"),
         numpy_helper.from_array(np.ones(6, np.float32), "b")])
    path = os.path.join(bad, name + ".onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    rc, out = run("run", path)
    if rc == 0 or want not in out or node.name not in out:
        sys.exit(f"ondine run {name}: exit {rc}, expected an error with {want!r}:\n{out}")
# Hostile roi and scales give some output or a clear error, never a crash.
xs = randn(1, 1, 4, 4)
for name, roi, scales in (("roi_nan", [0, 0, np.nan, -1e30, 1, 1, np.inf, 1e30], None),
                          ("tiny_scale", None, [1, 1, 1e-30, 3e-7])):
    node = helper.make_node("Resize", ["x", "roi" if roi else "", "scales" if scales else "",
                                       "" if scales else "sizes"], ["y"], name=name,
                            mode="cubic", exclude_outside=1,
                            coordinate_transformation_mode="tf_crop_and_resize" if roi
                            else "align_corners")
    inits = [numpy_helper.from_array(np.array(roi or [], np.float32), "roi"),
             numpy_helper.from_array(np.array(scales or [], np.float32), "scales"),
             numpy_helper.from_array(np.array([1, 1, 3, 5], np.int64), "sizes")]
    graph = helper.make_graph([node], name, [helper.make_tensor_value_info("x", F, xs.shape)],
                              [helper.make_tensor_value_info("y", F, None)], inits)
    path = os.path.join(bad, name + ".onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    rc, out = run("run", path)
    if rc < 0 or rc > 2 or (rc and name not in out):
        sys.exit(f"ondine run {name}: exit {rc}\n{out}")
print(f"{n_cases} cases passed at -O2 and -O0; kernels and refusals as expected")
