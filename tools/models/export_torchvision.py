#!/usr/bin/python3
# Exports torchvision CNNs with seeded random weights to ONNX backend-test
# folders (model.onnx + test_data_set_k/{input_0,output_0}.pb) for ondine.
# Limits: random weights only (never downloads), float32, one input/output,
# reference outputs are torch's own; run with /usr/bin/python3 (Debian torch).
# Weights are of sane magnitude: each BatchNormalization's statistics are those of
# its own input on a random batch (then a random scale and shift), and the classifier
# is scaled so the logits have standard deviation 1. Plain random init lets deep
# ResNets grow their activations block after block (ResNet-152's logits reached
# 2.7e11), and a fixed tolerance then means nothing.
import argparse
import collections
import os
import sys
import warnings

import onnx
import torch
import torchvision
from onnx import numpy_helper

MODELS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
          "resnext50_32x4d", "wide_resnet50_2", "vgg16", "vgg16_bn",
          "googlenet", "mobilenet_v2", "preact_resnet18",
          # the rest of torchvision 0.14's classification models, and its segmentation heads on
          # ResNet and MobileNet backbones (their "out" map is the output)
          "alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s",
          "inception_v3", "mnasnet1_0", "mobilenet_v3_large", "mobilenet_v3_small",
          "regnet_x_400mf", "regnet_y_400mf", "shufflenet_v2_x1_0", "squeezenet1_1",
          "vit_b_16", "swin_t", "fcn_resnet50", "deeplabv3_resnet50",
          "lraspp_mobilenet_v3_large"]
SEGMENTATION = {"fcn_resnet50", "deeplabv3_resnet50", "lraspp_mobilenet_v3_large"}
# The sweep's opsets (tools/conformance.py); 9 exports on request (--opset 9).
OPSETS = [11, 12, 13, 14, 15, 16, 17]
# Written to <folder>/exporter_version: folders of an older exporter (other weights) are
# exported again by tools/conformance.py and the Python tests' fixture.
VERSION = "2"
BNS = ["keep", "fold"]


def calibrate(model, size, seed):
    """BN running statistics from a random batch through the model itself, and the
    last Linear scaled to logits of standard deviation 1 on that batch."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: the batch's own statistics
    x = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(seed + 1000))
    with torch.no_grad():
        if bns:
            model.train()
            model(x)
        model.eval()
        # the classifier's Linear, or a segmentation head's last Conv
        last = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
        scale = float(model(x).std())
        last[-1].weight.div_(scale)
        if last[-1].bias is not None:
            last[-1].bias.div_(scale)
    for m in bns:
        m.momentum = 0.1  # torch's default, which the exporter writes as ONNX momentum


class PreActBlock(torch.nn.Module):
    """ResNet v2 basic block (He et al., "Identity Mappings in Deep Residual Networks"):
    BN -> ReLU -> 3x3 conv -> BN -> ReLU -> 3x3 conv, plus the block input, or a 1x1
    projection of the pre-activated input where the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        nn = torch.nn
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        a = torch.relu(self.bn1(x))
        shortcut = self.proj(a) if self.proj is not None else x
        y = self.conv1(a)
        y = self.conv2(torch.relu(self.bn2(y)))
        return y + shortcut


def preact_resnet18():
    """Pre-activation ResNet-18 (torchvision has none): stem conv + max pool, four stages of
    two PreActBlocks, final BN -> ReLU -> global average pool -> FC."""
    nn = torch.nn
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [PreActBlock(cin, cout, stride), PreActBlock(cout, cout, 1)]
        cin = cout
    layers += [nn.BatchNorm2d(cin), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(cin, 1000)]
    return nn.Sequential(*layers)


class SegmentationOut(torch.nn.Module):
    """A torchvision segmentation model's "out" map alone (its forward returns a dict)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


def build(name, seed, size):
    torch.manual_seed(seed)
    if name == "preact_resnet18":
        model = preact_resnet18()
    else:
        kw = {}
        if name in ("googlenet", "inception_v3"):
            # init_weights=True silences the "default init will change" warning;
            # transform_input=False keeps the graph a plain CNN.
            kw = dict(aux_logits=False, init_weights=True, transform_input=False)
        if name in SEGMENTATION:
            kw = dict(weights_backbone=None, aux_loss=False)
            model = SegmentationOut(getattr(torchvision.models.segmentation, name)(
                weights=None, **kw))
        else:
            model = getattr(torchvision.models, name)(weights=None, **kw)
    randomize_bn(model)
    calibrate(model, size, seed)
    return model.eval()


def randomize_bn(model):
    """Fresh BNs are identity (w 1, b 0): randomize scale and shift so a runtime that folds
    or mis-applies BN actually gets caught; their statistics come from data (calibrate)."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_().mul_(0.1)
    # A residual branch at full gain makes a deep ResNet chaotic: float32 rounding in
    # another order then grows block after block (ResNet-152's logits moved by 2e-3 of
    # their scale between two valid summation orders). Its last BN starts at a quarter.
    for m in model.modules():
        last = getattr(m, "bn3", None) if isinstance(m, torchvision.models.resnet.Bottleneck) \
            else getattr(m, "bn2", None) if isinstance(m, torchvision.models.resnet.BasicBlock) \
            else None
        if last is not None:
            with torch.no_grad():
                last.weight.mul_(0.25)


def op_summary(model):
    c = collections.Counter(n.op_type for n in model.graph.node)
    return " ".join(f"{k}={v}" for k, v in c.most_common())


def save_tensor(path, arr, name):
    t = numpy_helper.from_array(arr, name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def export(name, opset, bn, args, batches):
    d = os.path.join(args.out, f"{name}_bn{bn}_op{opset}")
    model = build(name, args.seed, args.size)
    dummy = torch.randn(batches[0], 3, args.size, args.size)
    if bn == "keep":
        mode, fold = torch.onnx.TrainingMode.PRESERVE, False
    else:
        mode, fold = torch.onnx.TrainingMode.EVAL, True
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, dummy, path, opset_version=opset,
                              training=mode, do_constant_folding=fold,
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "N"},
                                            "output": {0: "N"}})
    except Exception as e:  # exporter refuses some (model, opset) pairs
        print(f"skip {d}: {type(e).__name__}: {str(e).splitlines()[0]}")
        if os.path.exists(path):
            os.remove(path)
        return
    m = onnx.load(path)
    onnx.checker.check_model(m)
    if not args.no_data:
        for k, b in enumerate(batches):
            g = torch.Generator().manual_seed(args.seed + k)
            x = torch.randn(b, 3, args.size, args.size, generator=g)
            with torch.no_grad():
                y = model(x)
            td = os.path.join(d, f"test_data_set_{k}")
            os.makedirs(td, exist_ok=True)
            save_tensor(os.path.join(td, "input_0.pb"), x.numpy(),
                        m.graph.input[0].name)
            save_tensor(os.path.join(td, "output_0.pb"), y.float().numpy(),
                        m.graph.output[0].name)
    with open(os.path.join(d, "exporter_version"), "w") as f:
        f.write(VERSION + "\n")
    print(f"{d}: {op_summary(m)}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", action="append",
                   help="model name(s), repeatable or comma list; default all")
    p.add_argument("--opset", type=int, action="append", choices=[9] + OPSETS)
    p.add_argument("--bn", choices=BNS, action="append")
    p.add_argument("--batches", default="1,4")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--out")
    p.add_argument("--no-data", action="store_true")
    p.add_argument("--list", action="store_true",
                   help="print the sweep's (model, opset, bn) and exit")
    args = p.parse_args()
    models = [s for m in (args.model or MODELS) for s in m.split(",") if s]
    for m in models:
        if m not in MODELS:
            p.error(f"unknown model {m}; known: {','.join(MODELS)}")
    opsets = args.opset or OPSETS
    bns = args.bn or BNS
    combos = [(m, o, b) for m in models for o in opsets for b in bns]
    if args.list:
        for m, o, b in combos:
            print(m, o, b)
        return
    if not args.out:
        p.error("--out is required")
    batches = [int(b) for b in args.batches.split(",")]
    for m, o, b in combos:
        export(m, o, b, args, batches)


if __name__ == "__main__":
    sys.exit(main())
