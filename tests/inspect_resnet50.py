#!/usr/bin/python3
"""Exports torchvision ResNet-50 with BatchNormalization kept and checks `ondine inspect --json`:
the op counts of the export and about 4.1 G MACs at batch 1 (torchvision's published figure
for ResNet-50 is 4.09 GMACs). Usage: inspect_resnet50.py ONDINE_BINARY SOURCE_DIR WORK_DIR"""
import json
import subprocess
import sys

ondine, src, work = sys.argv[1:4]
subprocess.run(["/usr/bin/python3", f"{src}/tools/models/export_torchvision.py", "--model",
                "resnet50", "--opset", "13", "--bn", "keep", "--no-data", "--out", work],
               check=True, stdout=subprocess.DEVNULL)
model = f"{work}/resnet50_bnkeep_op13/model.onnx"
report = json.loads(subprocess.run([ondine, "inspect", "--json", model], check=True,
                                   capture_output=True, text=True).stdout)
want = {"Conv": 53, "BatchNormalization": 53, "Relu": 49, "Add": 16, "MaxPool": 1,
        "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
assert report["nodes"] == want, report["nodes"]
assert report["nodes_total"] == sum(want.values()), report["nodes_total"]
assert 4.05e9 < report["macs"] < 4.15e9, report["macs"]
assert report["inputs"][0]["shape"] == ["N", 3, 224, 224], report["inputs"]
assert report["outputs"][0]["shape"] == ["N", 1000], report["outputs"]
assert report["params"] > 25_500_000, report["params"]
batch4 = json.loads(subprocess.run([ondine, "inspect", "--json", "--batch", "4", model],
                                   check=True, capture_output=True, text=True).stdout)
assert abs(batch4["macs"] - 4 * report["macs"]) < 1e6, batch4["macs"]
print(f"resnet50: {report['nodes_total']} nodes, {report['macs'] / 1e9:.3f} G MACs: ok")
