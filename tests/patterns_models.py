#!/usr/bin/python3
"""patterns_models.py: the patterns of issue 15's new models, in small torch models exported at
opset 17 (13 for fuse_layernorm), against torch's outputs through `ondine test` at -O0 and -O2.
For the patterns fuse_swish, fuse_gelu and fuse_layernorm rewrite, also at -O2 with the pass
disabled; `ondine inspect --passes --json` must show each pass rewriting exactly the candidates
it should and rejecting the near misses with its rule, and the -O2 file `ondine optimize`
writes (ai.ondine.Swish / Gelu in an opset-17 model, ai.ondine.LayerNormalization in an
opset-13 one) must load and give the same outputs. For the layouts
around ConvNeXt's permutes and RegNet-Y's squeeze-and-excitation, `ondine run --profile` must
list no Transpose step (they are views), no reference kernel and no eval step.

- silu: sigmoid(x) * x on the graph input (operands the other way round: a Swish node), Conv ->
  nn.SiLU -> Conv -> y * sigmoid(y) -> Conv (two Swish that become the Convs' post-ops), and a
  SiLU whose Sigmoid output is also read elsewhere (a near miss: ONE_READER).
- gelu: x * 0.5 * (1 + erf(x * 0.7071...)) on the input (Hugging Face's association, a Mul for
  the Div: a Gelu node), Linear -> nn.GELU (torch's Div/Erf/Add/Mul/Mul: a post-op of the
  Linear's bias Add), one with 1.5 instead of sqrt 2 (not GELU: it must still compute what it
  says), and one whose sqrt 2 has shape [1,1,1,1], broadcasting the rank-3 result to rank 4 (a
  near miss: the rank rule).
- convnext: ConvNeXt's stem and one block (permute -> LayerNorm -> permute, and permute ->
  LayerNorm -> Linear -> GELU -> Linear -> permute -> layer scale + residual), then a transpose
  of H and W between two Convs.
- se: a RegNet-Y block, whose grouped 3x3 Conv ran oneDNN's reference kernel on the nhwc input
  it arrives in, and whose SE Mul read the grouped conv's blocked output with it.
- layernorm (opset 13, where torch writes F.layer_norm out): three nn.LayerNorms fuse_layernorm
  makes LayerNormalization nodes of (last dim; last two dims; no gamma and beta) and four
  hand-written chains that each break one of its rules; layernorm18: the chain at opset 18
  (ReduceMean's axes an input) built with onnx.helper, and two near misses (a negative and a
  rank-5 epsilon), against numpy; convnext13: the convnext model at opset 13, its LayerNorms
  fused, with the same profile checks.
Measured: -O0 and -O2 are within 1.2e-7 of torch on outputs up to 0.63 (silu), 9e-8 up to 0.37
(gelu), 1.5e-7 up to 0.73 (convnext), 8.2e-8 up to 0.42 (se), 1.6e-7 up to 0.88 (convnext13),
1.4e-6 up to 2.9 (layernorm: seven normalizations in a row) and of numpy within 3.6e-7 up to
3.6 (layernorm18); atol 1e-5, rtol 0.

usage: patterns_models.py ONDINE WORK_DIR
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

ONDINE, WORK = sys.argv[1], sys.argv[2]
ATOL = 1e-5


class Silu(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 8, 1)
        self.c3 = torch.nn.Conv2d(8, 4, 1)
        self.act = torch.nn.SiLU()

    def forward(self, x):
        x = torch.sigmoid(x) * x  # on the graph input: stays a Swish node
        y = self.c2(self.act(self.c1(x)))
        y = self.c3(y * torch.sigmoid(y))
        s = torch.sigmoid(y)
        return y * s + s  # the Sigmoid's output has a second reader: no Swish


class HardSwish(torch.nn.Module):
    """nn.Hardswish at opset 13 (HardSigmoid(alpha 1/6, beta 1/2) and a Mul, as MobileNetV3)."""
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 8, 1)
        self.c3 = torch.nn.Conv2d(8, 4, 1)
        self.act = torch.nn.Hardswish()

    def forward(self, x):
        x = self.act(x)  # on the graph input: stays a HardSwish node
        y = self.c2(self.act(self.c1(x)))
        y = self.c3(y * torch.nn.functional.hardsigmoid(y))
        s = torch.nn.functional.hardsigmoid(y)
        return y * s + s  # the HardSigmoid's output has a second reader: no HardSwish


class Gelu(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 32)
        self.fc2 = torch.nn.Linear(32, 16)
        self.act = torch.nn.GELU()
        self.register_buffer("root2", torch.full((1, 1, 1, 1), 2.0).sqrt())

    def forward(self, x):
        x = x * 0.5 * (1.0 + torch.erf(x * 0.7071067811865476))  # stays a Gelu node
        y = self.fc2(self.act(self.fc1(x)))
        y = y * 0.5 * (1.0 + torch.erf(y / 1.5))  # not GELU
        return y * 0.5 * (1.0 + torch.erf(y / self.root2))  # GELU broadcast to rank 4


class ConvNextish(torch.nn.Module):
    """ConvNeXt's stem (Conv -> permute -> LayerNorm -> permute) and one block (depthwise Conv
    -> permute -> LayerNorm -> Linear -> GELU -> Linear -> permute -> layer scale + input), then
    a transpose of H and W between two Convs."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.stem, self.ln0 = nn.Conv2d(3, 16, 4, stride=4), nn.LayerNorm(16, eps=1e-6)
        self.dw, self.ln1 = nn.Conv2d(16, 16, 7, padding=3, groups=16), nn.LayerNorm(16, eps=1e-6)
        self.fc1, self.fc2, self.act = nn.Linear(16, 64), nn.Linear(64, 16), nn.GELU()
        self.scale = nn.Parameter(torch.rand(16, 1, 1) + 0.5)
        self.c1, self.c2 = nn.Conv2d(16, 8, 1), nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        x = self.ln0(self.stem(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        y = self.ln1(self.dw(x).permute(0, 2, 3, 1))
        y = self.fc2(self.act(self.fc1(y))).permute(0, 3, 1, 2)
        x = x + self.scale * y
        return self.c2(torch.relu(self.c1(x).transpose(2, 3)))


class Se(torch.nn.Module):
    """A RegNet-Y block: 1x1 Conv -> grouped 3x3 Conv (8 channels a group) -> squeeze and
    excitation (global pool -> 1x1 -> ReLU -> 1x1 -> Sigmoid -> Mul) -> 1x1 Conv."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.a, self.b = nn.Conv2d(8, 48, 1), nn.Conv2d(48, 48, 3, padding=1, groups=6)
        self.s1, self.s2, self.c = nn.Conv2d(48, 8, 1), nn.Conv2d(8, 48, 1), nn.Conv2d(48, 16, 1)

    def forward(self, x):
        y = torch.relu(self.b(torch.relu(self.a(x))))
        s = torch.sigmoid(self.s2(torch.relu(self.s1(y.mean((2, 3), keepdim=True)))))
        return self.c(y * s)


class LayerNorms(torch.nn.Module):
    """F.layer_norm as torch writes it below opset 17 (ReduceMean, Sub, Pow, ReduceMean, Add,
    Sqrt, Div, Mul, Add) on x [N, 7, 5, 16]: over the last dim, over the last two (gamma and
    beta [5, 16]), without gamma and beta; then the same chain by hand four times, each
    breaking one rule of fuse_layernorm."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.ln0, self.ln1 = nn.LayerNorm(16, eps=1e-6), nn.LayerNorm([5, 16])
        self.ln2 = nn.LayerNorm(16, elementwise_affine=False)
        for m in (self.ln0, self.ln1):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
        self.register_buffer("eps_rows", torch.rand(5, 1) * 1e-3 + 1e-5)
        self.register_buffer("gamma_rows", torch.rand(7, 1, 1) + 0.5)

    @staticmethod
    def norm(x, dim=-1, eps=1e-5):
        d = x - x.mean(dim, keepdim=True)
        return d, d / torch.sqrt(d.pow(2).mean(dim, keepdim=True) + eps)

    def forward(self, x):
        y = self.ln2(self.ln1(self.ln0(x)))
        d, a = self.norm(y)
        a = a + d  # d has a third reader: ONE_READER
        b = self.norm(a, eps=self.eps_rows)[1]  # epsilon varies by row: FORM
        c = self.norm(b, dim=1)[1]  # not the last axis: AXES
        return self.norm(c)[1] * self.gamma_rows  # gamma varies along dim 1: AFFINE


def layernorm_op18(d):
    """LayerNorm written out at opset 18 (ReduceMean's axes an input: [2, 3], two trailing
    axes of x [2, 3, 4, 8]), Mul and Adds with their operands the other way round, gamma [1, 8]
    and beta [8] (broadcast copies of [4, 8] made), epsilon 0.5 of shape [1] (large enough
    that losing it moves y by about 0.03): output y. Two near
    misses over axis 3 beside it: epsilon -1e-3 (y1: FORM, a LayerNormalization epsilon must
    not be negative) and epsilon of shape [1, 1, 1, 1, 1] (y2, of rank 5: SHAPE). numpy's
    float64 computation of each as the reference."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4, 8)).astype(np.float32) * 3 + 1
    gamma = rng.uniform(0.5, 1.5, (1, 8)).astype(np.float32)
    beta = rng.uniform(-1, 1, (8,)).astype(np.float32)
    consts = {"axes": np.array([2, 3], np.int64), "two": np.array(2, np.float32),
              "eps": np.array([0.5], np.float32), "gamma": gamma, "beta": beta,
              "last": np.array([-1], np.int64), "eps_neg": np.array(-1e-3, np.float32),
              "eps_5d": np.full((1, 1, 1, 1, 1), 1e-4, np.float32)}

    def chain(k, axes, eps, y):
        return [helper.make_node("ReduceMean", ["x", axes], [f"m{k}"], name=f"mean{k}"),
                helper.make_node("Sub", ["x", f"m{k}"], [f"d{k}"], name=f"sub{k}"),
                helper.make_node("Pow", [f"d{k}", "two"], [f"p{k}"], name=f"pow{k}"),
                helper.make_node("ReduceMean", [f"p{k}", axes], [f"v{k}"], name=f"var{k}"),
                helper.make_node("Add", [eps, f"v{k}"], [f"e{k}"], name=f"add_eps{k}"),
                helper.make_node("Sqrt", [f"e{k}"], [f"s{k}"], name=f"sqrt{k}"),
                helper.make_node("Div", [f"d{k}", f"s{k}"], [y], name=f"div{k}")]

    nodes = (chain("", "axes", "eps", "n") + chain("1", "last", "eps_neg", "y1") +
             chain("2", "last", "eps_5d", "y2") +
             [helper.make_node("Mul", ["gamma", "n"], ["g"], name="mul"),
              helper.make_node("Add", ["beta", "g"], ["y"], name="add_beta")])
    out = [helper.make_tensor_value_info(y, TensorProto.FLOAT, None) for y in ("y", "y1", "y2")]
    graph = helper.make_graph(
        nodes, "ln18", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 8])],
        out, [numpy_helper.from_array(v, k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))

    def norm(axes, eps):
        x64 = x.astype(np.float64)
        m = x64.mean(axes, keepdims=True)
        return (x64 - m) / np.sqrt(((x64 - m) ** 2).mean(axes, keepdims=True) + eps)

    ys = (norm((2, 3), 0.5) * gamma + beta, norm(3, np.float32(-1e-3)),
          norm(3, 1e-4)[None])
    save(os.path.join(d, "test_data_set_0", "input_0.pb"), x, "x")
    for i, (name, y) in enumerate(zip(("y", "y1", "y2"), ys)):
        save(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), y.astype(np.float32), name)
    return d


def save(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def export(name, model, x, opset=17):
    d = os.path.join(WORK, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    model.eval()
    torch.onnx.export(model, x, os.path.join(d, "model.onnx"), opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    with torch.no_grad():
        y = model(x)
    save(os.path.join(d, "test_data_set_0", "input_0.pb"), x.numpy(), "input")
    save(os.path.join(d, "test_data_set_0", "output_0.pb"), y.numpy(), "output")
    return d


def run(*args):
    return subprocess.run([ONDINE, *args], capture_output=True, text=True)


def test(d, *opts):
    p = run("test", d, "--rtol", "0", "--atol", str(ATOL), *opts)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr.strip()
    ok = p.returncode == 0 and last.startswith("1 passed, 0 failed")
    print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(d)} {' '.join(opts)}: "
          f"{p.stdout.strip() or p.stderr.strip()}")
    return ok


def passes(d):
    p = run("inspect", os.path.join(d, "model.onnx"), "--passes", "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def reloads(name, d, op, domain="ai.ondine"):
    """Whether the file `ondine optimize -O2` writes holds <op> in domain (ai.ondine's where
    the model's ONNX opset is older than the op, else ONNX's "") and not in the other, loads
    and gives the reference's outputs."""
    path = os.path.join(d, "optimized_O2.onnx")
    p = run("optimize", os.path.join(d, "model.onnx"), "-O2", "-o", path)
    domains = {(n.domain, n.op_type) for n in onnx.load(path).graph.node}
    other = "" if domain else "ai.ondine"
    wrote = p.returncode == 0 and (domain, op) in domains and (other, op) not in domains
    p = run("run", path, "--input", os.path.join(d, "test_data_set_0", "input_0.pb"),
            "--output-dir", os.path.join(d, "out"))
    ref = numpy_helper.to_array(onnx.load_tensor(
        os.path.join(d, "test_data_set_0", "output_0.pb")))
    got = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "out", "output_0.pb"))) \
        if p.returncode == 0 else None
    err = abs(got - ref).max() if got is not None else float("inf")
    print(f"{'ok  ' if wrote and err <= ATOL else 'FAIL'} {name}: optimize -O2 writes "
          f"{domain or 'ONNX'} {op}, reloaded max error {err:.3g}")
    return wrote and err <= ATOL


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    cases = {"silu": (export("silu", Silu(), torch.randn(2, 3, 7, 7, generator=g)), "fuse_swish"),
             "hardswish": (export("hardswish", HardSwish(),
                                  torch.randn(2, 3, 7, 7, generator=g) * 4, opset=13),
                           "fuse_swish"),
             "gelu": (export("gelu", Gelu(), torch.randn(2, 5, 16, generator=g)), "fuse_gelu")}
    ok = True
    for name, (d, pass_name) in cases.items():
        for opts in (["-O0"], ["-O2"], ["-O2", "--disable-pass", pass_name]):
            ok &= test(d, *opts)
        r = passes(d)
        made = [f for f in r["fusions"] if f["pass"] == pass_name]
        missed = [f for f in r["not_fused"] if f["pass"] == pass_name]
        ops = r["optimized"]["nodes"]
        posts = [f["post_ops"] for f in r["fusions"] if f["pass"] != pass_name]
        if name in ("silu", "hardswish"):
            # Three Swish (HardSwish) made, one rejected (its Sigmoid has two readers); the two
            # after Convs become their post-ops, the one on the graph input stays a node.
            op, post = ("Swish", "swish") if name == "silu" else ("HardSwish", "hard_swish")
            want = (len(made) == 3 and len(missed) == 1 and "one reader" in missed[0]["reason"]
                    and ops.get(op) == 1 and ops.get("Sigmoid" if name == "silu" else
                                                     "HardSigmoid") == 1 and
                    posts.count([post]) == 2)
        else:
            # nn.GELU (after the Linear's bias Add: its post-op) and the Hugging Face form on
            # the input (a Gelu node); x / 1.5 is not GELU and leaves its Erf; the last one
            # broadcasts to rank 4 (rejected: a rank rule).
            want = (len(made) == 2 and len(missed) == 1 and "x's rank" in missed[0]["reason"]
                    and ops.get("Erf") == 2 and ops.get("Gelu") == 1 and
                    posts.count(["gelu_erf"]) == 1)
        print(f"{'ok  ' if want else 'FAIL'} {name}: {pass_name} made {len(made)}, rejected "
              f"{len(missed)}; optimized {ops}")
        ok &= want
        # The -O2 file holds ai.ondine.Swish / HardSwish / Gelu (the model's opset is older
        # than the op's) and reloads.
        ok &= reloads(name, d, {"silu": "Swish", "hardswish": "HardSwish"}.get(name, "Gelu"))
    # fuse_layernorm: torch's written-out LayerNorm at opset 13, the near misses, and an
    # opset-18 chain (axes an input) against numpy.
    g13 = torch.randn(2, 7, 5, 16, generator=g) * 2 + 0.5
    for name, d in (("layernorm", export("layernorm", LayerNorms(), g13, opset=13)),
                    ("layernorm18", layernorm_op18(os.path.join(WORK, "layernorm18")))):
        for opts in (["-O0"], ["-O2"], ["-O2", "--disable-pass", "fuse_layernorm"]):
            ok &= test(d, *opts)
        r = passes(d)
        made = [f for f in r["fusions"] if f["pass"] == "fuse_layernorm"]
        missed = [f["reason"] for f in r["not_fused"] if f["pass"] == "fuse_layernorm"]
        rules = sorted(next((w for w in ("read by the Pow", "divisor", "trailing run", "gamma",
                                         "x's rank") if w in m), m) for m in missed)
        ops = r["optimized"]["nodes"]
        if name == "layernorm":
            # The three nn.LayerNorms; the four hand-written ones each break one rule (x minus
            # its mean read thrice; epsilon not a scalar; axis 1; gamma [7, 1, 1]).
            want = (len(made) == 3 and ops.get("LayerNormalization") == 3 and
                    rules == ["divisor", "gamma", "read by the Pow", "trailing run"] and
                    ops.get("Div") == 4)
        else:
            # Epsilon -1e-3 and epsilon of rank 5 stay unfused.
            want = (len(made) == 1 and ops.get("LayerNormalization") == 1 and
                    rules == ["divisor", "x's rank"] and ops.get("Div") == 2)
        print(f"{'ok  ' if want else 'FAIL'} {name}: fuse_layernorm made {len(made)}, rejected "
              f"{rules}; optimized {ops}")
        # Opset 13: ai.ondine.LayerNormalization; 18: ONNX's own.
        ok &= want and reloads(name, d, "LayerNormalization",
                               "ai.ondine" if name == "layernorm" else "")
    # Layouts: ConvNeXt's permutes are views (no step, no copy) and the SE block runs no
    # reference kernel; both against torch at -O0 and -O2.
    # ConvNeXt again at opset 13, its LayerNorms written out: fuse_layernorm's nodes too.
    for name, model, x, opset in (
            ("convnext", ConvNextish(), torch.randn(2, 3, 32, 28, generator=g), 17),
            ("convnext13", ConvNextish(), torch.randn(2, 3, 32, 28, generator=g), 13),
            ("se", Se(), torch.randn(2, 8, 14, 14, generator=g), 17)):
        d = export(name, model, x, opset)
        for opts in (["-O0"], ["-O2"]):
            ok &= test(d, *opts)
        p = run("run", os.path.join(d, "model.onnx"), "--batch", "2", "--profile",
                os.path.join(d, "trace.json"))
        steps = [ln.split() for ln in p.stdout.splitlines()[2:] if ln.startswith("  ")]
        bad = [ln for ln in p.stdout.splitlines()
               if " Transpose " in ln or "ref:" in ln or "eval:" in ln]
        good = p.returncode == 0 and steps and not bad
        print(f"{'ok  ' if good else 'FAIL'} {name}: {len(steps)} steps, no Transpose step, "
              f"reference kernel or eval" + ("" if good else f": {bad or p.stderr}"))
        ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
