#!/usr/bin/python3
# How far torch's own valid float32 summation orders move an exported model's outputs: the
# stored reference of a backend-test folder (tools/models/export_torchvision.py: torch's
# default oneDNN path) against the same model run with torch's oneDNN off (im2col + GEMM
# convolutions), in channels_last (oneDNN's NHWC kernels), and in float64, held to the
# conformance tolerance (|got - ref| <= atol + rtol*|ref|). With --ondine DIR (the
# output_0.npy files of `ondine run --output-dir DIR/set_K --output-format npy`, one per data
# set) ondine's outputs are held to the same references. Where torch against torch fails the
# tolerance, the tolerance is below the model's float32 noise, and ondine missing it by as
# much says nothing about ondine. Limits: torchvision models of the exporter, seed 0, size
# 224, BN kept; two data sets (batch 1 and 2, `--batches 1,2`). Run with /usr/bin/python3.
# Usage: torch_spread.py MODEL FOLDER [--ondine DIR] [--rtol 1e-3] [--atol 1e-4]
import argparse
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torchvision  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("folder")
    p.add_argument("--ondine")
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-4)
    p.add_argument("--sets", type=int, default=2)
    args = p.parse_args()
    model = export_torchvision.build(args.model, 0, 224)

    def stat(got, ref):
        e = np.abs(got - ref)
        over = int((e > args.atol + args.rtol * np.abs(ref)).sum())
        return f"max {e.max():.3g}, mean {e.mean():.2g}, {over} of {e.size} over"

    for k in range(args.sets):
        d = os.path.join(args.folder, f"test_data_set_{k}")
        x = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "input_0.pb"))).copy()
        ref = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "output_0.pb")))
        x = torch.from_numpy(x)
        outs = {}
        with torch.no_grad():
            with torch.backends.mkldnn.flags(enabled=False):
                outs["torch, oneDNN off"] = model(x).numpy()
            cl = torch.channels_last
            outs["torch, channels_last"] = model.to(memory_format=cl)(
                x.to(memory_format=cl)).numpy()
            model.to(memory_format=torch.contiguous_format)
            if args.ondine:
                outs["ondine"] = np.load(os.path.join(args.ondine, f"set_{k}", "output_0.npy"))
            f64 = model.double()(x.double()).numpy()
            model.float()
        print(f"set {k}: torch float32 (the reference) against float64: {stat(ref, f64)}")
        for name, y in outs.items():
            print(f"set {k}: {name} against the reference: {stat(y, ref)}; "
                  f"against float64: {stat(y, f64)}")


if __name__ == "__main__":
    sys.exit(main())
