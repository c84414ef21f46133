#!/usr/bin/python3
"""Exports torchvision ResNet-50 with BatchNormalization kept and checks `ondine inspect --json`:
the op counts of the export and about 4.1 G MACs at batch 1 (torchvision's published figure
for ResNet-50 is 4.09 GMACs). Then the optimization passes on it and on the Caffe2-style
ResNet-50 (opset 9, Sum residual adds, Reshape flatten): `inspect --passes` reports the 53
BatchNormalizations folded and the 16 residual adds fused with their Relu, and the optimized
graph is 53 Conv, 1 MaxPool, 1 GlobalAveragePool and 1 InnerProduct; the text, dot and svg
forms, the errors of the pass options, and `ondine optimize -O1` of the Caffe2-style model
passing onnx.checker's full check (tests/passes_models.py compares outputs on a smaller one).
`inspect --kernels` lists the planned steps: every node a oneDNN kernel, in fp32 and in int8
(where the 53 convolutions read s8/u8 and the classifier writes f32 logits).
Usage: inspect_resnet50.py ONDINE_BINARY SOURCE_DIR WORK_DIR"""
import json
import os
import re
import subprocess
import sys

import onnx

ondine, src, work = sys.argv[1:4]
subprocess.run(["/usr/bin/python3", f"{src}/tools/models/export_torchvision.py", "--model",
                "resnet50", "--opset", "13", "--bn", "keep", "--no-data", "--out", work],
               check=True, stdout=subprocess.DEVNULL)
model = f"{work}/resnet50_bnkeep_op13/model.onnx"


def inspect(*args):
    return subprocess.run([ondine, "inspect", *args], check=True, capture_output=True,
                          text=True).stdout


report = json.loads(inspect("--json", model))
want = {"Conv": 53, "BatchNormalization": 53, "Relu": 49, "Add": 16, "MaxPool": 1,
        "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
assert report["nodes"] == want, report["nodes"]
assert report["nodes_total"] == sum(want.values()), report["nodes_total"]
assert 4.05e9 < report["macs"] < 4.15e9, report["macs"]
assert report["inputs"][0]["shape"] == ["N", 3, 224, 224], report["inputs"]
assert report["outputs"][0]["shape"] == ["N", 1000], report["outputs"]
# Parameters of the optimized graph: BN's four per channel became the conv biases.
assert report["params"] > 25_500_000, report["params"]
batch4 = json.loads(inspect("--json", "--batch", "4", model))
assert abs(batch4["macs"] - 4 * report["macs"]) < 1e6, batch4["macs"]
print(f"resnet50: {report['nodes_total']} nodes, {report['macs'] / 1e9:.3f} G MACs: ok")

# ---- the passes ----
subprocess.run(["/usr/bin/python3", f"{src}/tools/models/make_caffe2_resnet50.py", "--out", work,
                "--batches", "1"], check=True, stdout=subprocess.DEVNULL)
caffe2 = f"{work}/caffe2_resnet50_op9/model.onnx"
OPTIMIZED = {"Conv": 53, "MaxPool": 1, "GlobalAveragePool": 1, "InnerProduct": 1}
RESIDUAL = re.compile(r"^Conv '[^']+' \+ (Add|Sum) '[^']+' \+ Relu '[^']+' -> "
                      r"Conv '[^']+' \[sum, relu\]$")
for path, add in ((model, "Add"), (caffe2, "Sum")):
    r = json.loads(inspect("--json", "--passes", path))
    lines = [f["line"] for f in r["fusions"]]
    rewrites = {p["name"]: p["rewrites"] for p in r["passes"]}
    assert rewrites["fold_batchnorm"] == 53, rewrites
    assert rewrites["fuse_residual_add"] == 16, rewrites
    residual = [f for f in lines if RESIDUAL.match(f)]
    assert len(residual) == 16 and all(f" + {add} '" in f for f in residual), lines
    folded = [f for f in lines if " + BatchNormalization '" in f]
    assert len(folded) == 53, folded
    assert r["optimized"]["nodes"] == OPTIMIZED, r["optimized"]
    assert r["optimized"]["nodes_total"] == 56, r["optimized"]
    assert r["nodes"]["BatchNormalization"] == 53 and r["nodes"][add] == 16, r["nodes"]
    # -O1: BN folded, nothing fused; -O0: nothing at all.
    o1 = json.loads(inspect("--json", "--passes", "-O1", path))["optimized"]["nodes"]
    assert "BatchNormalization" not in o1 and o1[add] == 16 and o1["Relu"] == 49, o1
    o0 = json.loads(inspect("--json", "--passes", "-O0", path))
    assert o0["optimized"]["nodes"] == o0["nodes"], o0["optimized"]
    # One pass disabled by name: the adds stay, with their Relu (fuse_add_activation).
    off = json.loads(inspect("--json", "--passes", "--disable-pass", "fuse_residual_add", path))
    assert off["optimized"]["nodes"]["Add"] == 16, off["optimized"]
    assert not [p for p in off["passes"] if p["name"] == "fuse_residual_add"][0]["ran"]
    print(f"{os.path.basename(os.path.dirname(path))}: 53 BatchNormalizations folded, 16 "
          f"residual {add}s fused with their Relu, {r['optimized']['nodes']}: ok")

text = inspect("--passes", model)
assert re.search(r"^  fold_batchnorm +53 +175 -> 122$", text, re.M), text
assert re.search(r"^fusions +103$", text, re.M), text
assert sum(1 for line in text.splitlines() if RESIDUAL.match(line.strip())) == 16, text

# Graphs after a pass, with fused nodes labelled by their post-ops.
dot = f"{work}/resnet50_after_fold_batchnorm.dot"
inspect("--dot", dot, "--after", "fold_batchnorm", model)
with open(dot) as f:
    after_bn = f.read()
assert "BatchNormalization" not in after_bn and after_bn.count('label="Add') == 16, after_bn[:500]
inspect("--dot", dot, "--after", "all", model)
with open(dot) as f:
    final = f.read()
assert final.count('label="Conv [sum, relu]') == 16 and "Add" not in final, final[:500]
# Labels: the name within its block, attributes in short, shapes keeping the
# symbolic batch N everywhere (not 1 inside and N at the ends).
stem = 'tooltip="/conv1/Conv\\nconv1.weight float[64,3,7,7]\\n/conv1/Conv_bias float[64]", ' \
    'label="Conv [relu] k7x7 p3 s2\\nconv1\\n[N,64,112,112]"'
assert stem in final, final[:1500]
assert 'label="/layer1/layer1.0"' in final and "[1," not in final, final[:1500]
html = f"{work}/resnet50.html"
inspect("--passes", "--html", html, model)
with open(html) as f:
    page = f.read()
# The blocks overview links each block to its cluster in the optimized graph.
assert page.count('href="#ac') == 16 and page.count('<g id="ac') == 16, page[:1000]
if os.access("/usr/bin/dot", os.X_OK):
    svg = f"{work}/resnet50.svg"
    inspect("--svg", svg, model)
    with open(svg) as f:
        picture = f.read()
    # Not one tall column (issue 21: ResNet-34 was 264x4705 px): a column per stage of blocks
    # (layer3's 6 blocks in two), side by side.
    size = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', picture)
    assert size, "not an svg"
    w, h = map(float, size.groups())
    assert h < 1.5 * w, f"{w}x{h} pt"
    assert final.count("[constraint=false]") >= 4 and final.count("[style=invis]") == 4, final

# --kernels: the plan's steps, each node on a oneDNN kernel.
for precision in ("fp32", "int8"):
    k = json.loads(subprocess.run([ondine, "inspect", "--json", "--kernels", "--precision",
                                   precision, model], check=True, capture_output=True,
                                  text=True).stdout)
    assert k["precision"] == precision
    convs = [s for s in k["kernels"] if s["op"] == "Conv"]
    assert len(convs) == 53, k["kernels"]
    assert all(":" in s["impl"] for s in k["kernels"] if s["op"] != "Reorder"), k["kernels"]
    assert all(s["src"].split()[0] == ("f32" if precision == "fp32" else s["src"].split()[0])
               for s in convs)
    if precision == "int8":
        assert all(s["src"].split()[0] in ("s8", "u8") for s in convs), convs
        fc = [s for s in k["kernels"] if s["op"] == "InnerProduct"]
        assert fc[0]["dst"] == "f32 ab", fc
print("inspect --kernels fp32 and int8: ok")

# Pass options that are wrong.
bad = subprocess.run([ondine, "inspect", "--disable-pass", "fold_everything", model],
                     capture_output=True, text=True)
assert bad.returncode == 1 and "unknown pass 'fold_everything'" in bad.stderr \
    and "fuse_residual_add" in bad.stderr, bad.stderr
bad = subprocess.run([ondine, "inspect", "--dot", dot, "--after", "fold_everything", model],
                     capture_output=True, text=True)
assert bad.returncode == 2 and "unknown pass" in bad.stderr, bad.stderr
bad = subprocess.run([ondine, "inspect", "-O1", "--dot", dot, "--after", "fuse_activation", model],
                     capture_output=True, text=True)
assert bad.returncode == 2 and "runs from -O2 on, not at -O1" in bad.stderr, bad.stderr
print("inspect --passes, --dot/--svg --after, pass options: ok")

# -O1 output is standard ONNX: onnx.checker's full check (with shape inference) passes.
o1 = f"{work}/caffe2_resnet50_op9/optimized_O1.onnx"
subprocess.run([ondine, "optimize", "-O1", caffe2, "-o", o1], check=True, stdout=subprocess.DEVNULL)
onnx.checker.check_model(o1, full_check=True)
ops = {n.op_type for n in onnx.load(o1).graph.node}
assert ops == {"Conv", "Relu", "Sum", "MaxPool", "GlobalAveragePool", "Reshape", "Gemm"}, ops
print("caffe2 resnet50 at -O1: onnx.checker ok")
