#!/usr/bin/python3
"""Fixture of test_passes_models: builds a small (64x64) Caffe2-style ResNet-50 (opset 9, Sum
residual adds, Reshape flatten; torch reference outputs), writes it optimized with
`ondine optimize -O1` and `-O2`, and checks the -O1 file with onnx.checker (full check, with
shape inference): it must be standard ONNX. test_passes_models.c then compares outputs.
Usage: passes_models.py ONDINE_BINARY SOURCE_DIR WORK_DIR"""
import subprocess
import sys

import onnx

ondine, src, work = sys.argv[1:4]
subprocess.run(["/usr/bin/python3", f"{src}/tools/models/make_caffe2_resnet50.py", "--out", work,
                "--size", "64", "--batches", "1"], check=True, stdout=subprocess.DEVNULL)
folder = f"{work}/caffe2_resnet50_op9"
for level in (1, 2):
    subprocess.run([ondine, "optimize", f"{folder}/model.onnx", f"-O{level}", "-o",
                    f"{folder}/optimized_O{level}.onnx"], check=True, stdout=subprocess.DEVNULL)
o1 = onnx.load(f"{folder}/optimized_O1.onnx")
onnx.checker.check_model(o1, full_check=True)
ops = {n.op_type for n in o1.graph.node}
assert all(n.domain in ("", "ai.onnx") for n in o1.graph.node), "non-standard op at -O1"
assert "BatchNormalization" not in ops and ops <= {"Conv", "Relu", "Sum", "MaxPool",
                                                   "GlobalAveragePool", "Reshape", "Gemm"}, ops
o2 = onnx.load(f"{folder}/optimized_O2.onnx")
assert {n.domain for n in o2.graph.node} == {"", "ai.ondine"}, "fused ops at -O2"
print(f"{folder}: -O1 passes onnx.checker ({len(o1.graph.node)} nodes), "
      f"-O2 has {len(o2.graph.node)} nodes")
