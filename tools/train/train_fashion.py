#!/usr/bin/python3
"""Train the ResNet paper's CIFAR-style nets on Fashion-MNIST and export them to ONNX.

Plain-20/56 and ResNet-20/56 (6n+2 layers, n = 3/9; option-A shortcuts) as in He et al.
2015, section 4.2, on 1x28x28 inputs, recording training and test error after every epoch.
Writes MODELDIR/<arch>_fashion.onnx (opset 13, BatchNormalization kept, batch axis symbolic,
pixel normalization inside the graph) and MODELDIR/<arch>_fashion.json (settings, per-epoch
errors, torch's test accuracy and its predicted labels, which the C example and its test
compare ondine against). Run with /usr/bin/python3 (Debian's torch); examples/models/README.md
has the commands that made the committed models.

    /usr/bin/python3 tools/train/train_fashion.py --arch resnet20 --epochs 6 --subset 6000 \
        --out examples/models
"""
import argparse
import gzip
import json
import os
import struct
import time

# On a loaded machine, OpenMP threads that spin at barriers wait for a partner the kernel has
# descheduled: a training step measured 18x slower than with sleeping waits. Must precede the
# import of torch, which starts OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# arch: (n blocks per stage, shortcuts)
ARCHS = {"plain20": (3, False), "plain56": (9, False), "resnet20": (3, True), "resnet56": (9, True)}


def read_idx(path, magic, ndim):
    with gzip.open(path, "rb") as f:
        data = f.read()
    got, = struct.unpack(">I", data[:4])
    if got != magic:
        raise SystemExit(f"{path}: magic {got:#x}, expected {magic:#x}")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise SystemExit(f"{path}: {body.size} bytes of data for dims {dims}")
    return body.reshape(dims)


def load_split(data_dir, prefix):
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), 0x803, 3)
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), 0x801, 1)
    # Pixels scaled to [0,1]: the exported model's input.
    return torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers; with a shortcut, the paper's option A: the identity, or on a
    stage change x[:, :, ::2, ::2] with the new channels zero (no parameters). torch exports
    the subsample as Slice (steps 2) and the zero channels as Pad."""

    def __init__(self, cin, cout, stride, shortcut):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = shortcut
        self.stride, self.extra = stride, cout - cin

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.shortcut:
            if self.stride != 1:
                x = x[:, :, ::self.stride, ::self.stride]
            if self.extra:
                # The new channels split before and after the old ones, as in the paper's
                # reference implementations of option A.
                x = F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
            out = out + x
        return F.relu(out)


class CifarNet(nn.Module):
    """3x3 conv (16), three stages of n blocks (16/32/64 channels, stride 2 at the first block
    of stages 2 and 3: 28x28 -> 14x14 -> 7x7), global average pool, 10-way fully connected."""

    def __init__(self, n, shortcut):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        blocks, cin = [], 16
        for stage, cout in enumerate([16, 32, 64]):
            for i in range(n):
                blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and i == 0 else 1, shortcut))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


class Normalized(nn.Module):
    """The exported model: raw [0,1] pixels in, (x - mean) / std applied inside the graph."""

    def __init__(self, net, mean, std):
        super().__init__()
        self.net, self.mean, self.std = net, mean, std

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def predict(model, x, batch=500):
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])


def error(model, x, y):
    return round(1.0 - (predict(model, x) == y).float().mean().item(), 4)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=sorted(ARCHS), required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--subset", type=int, default=60000,
                    help="train on this many training images (a fixed random subset, from the seed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    ap.add_argument("--time-batches", type=int, default=0,
                    help="only time this many training steps and print seconds per batch")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", help="folder for <arch>_fashion.onnx and .json")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    mean, std = x_train.mean().item(), x_train.std().item()
    # The subset is drawn by its own generator, so it is the same for every arch.
    keep = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(args.seed))[:args.subset]
    x_train, y_train = x_train[keep], y_train[keep]

    n, shortcut = ARCHS[args.arch]
    net = CifarNet(n, shortcut)
    model = Normalized(net, mean, std)
    # channels_last: about 1.3x faster training on these small convs with oneDNN-backed torch.
    model = model.to(memory_format=torch.channels_last)
    steps_per_epoch = (len(x_train) + args.batch - 1) // args.batch
    # The paper's schedule in shape: SGD with momentum 0.9, weight decay 1e-4, the learning
    # rate divided by 10 at half and at three quarters of the run (its 32k and 48k of 64k steps).
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    total = args.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[total // 2, total * 3 // 4], gamma=0.1)
    order_gen = torch.Generator().manual_seed(args.seed)  # the data order depends on the seed only

    start = time.time()
    history = []
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        order = torch.randperm(len(x_train), generator=order_gen)
        loss_sum, correct = 0.0, 0
        for step, i in enumerate(range(0, len(order), args.batch)):
            if args.time_batches and step == args.time_batches + 2:
                # The first two steps warm up oneDNN's primitive cache and are not counted.
                print(f"{args.arch}: {(time.time() - t_timed) / args.time_batches:.3f} s per batch "
                      f"of {args.batch}", flush=True)
                return
            if step == 2:
                t_timed = time.time()
            idx = order[i:i + args.batch]
            xb = x_train[idx].contiguous(memory_format=torch.channels_last)
            logits = model(xb)
            loss = F.cross_entropy(logits, y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y_train[idx]).sum().item()
        seconds = time.time() - t0
        # Training error as the paper plots it: over the epoch's batches, in training mode.
        # Test error: the net after the epoch, in eval mode, on the 10k test images.
        model.eval()
        rec = {"epoch": epoch + 1, "train_loss": round(loss_sum / len(x_train), 4),
               "train_error": round(1.0 - correct / len(x_train), 4),
               "test_error": error(model, x_test, y_test), "seconds": round(seconds, 1)}
        history.append(rec)
        print(f"{args.arch} epoch {rec['epoch']}/{args.epochs}: loss {rec['train_loss']:.4f} "
              f"train error {rec['train_error']:.4f} test error {rec['test_error']:.4f} "
              f"({rec['seconds']:.0f} s)", flush=True)
    train_seconds = time.time() - start

    model = model.to(memory_format=torch.contiguous_format).eval()
    pred = predict(model, x_test)
    hit = pred == y_test
    per_class = {CLASSES[c]: round(hit[y_test == c].float().mean().item(), 4) for c in range(10)}
    acc = hit.float().mean().item()
    print(f"{args.arch}: torch test accuracy {acc:.4f} ({hit.sum().item()}/{len(y_test)}), "
          f"trained in {train_seconds / 60:.1f} min", flush=True)

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, f"{args.arch}_fashion.onnx")
    # PRESERVE after eval(): BatchNormalization stays a node (inference form), and no constant
    # folding, so ondine's own BN folding pass has the work to do.
    torch.onnx.export(model, x_test[:1], onnx_path, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    onnx.checker.check_model(onnx.load(onnx_path))

    record = {
        "arch": args.arch, "layers": 6 * n + 2, "blocks_per_stage": n,
        "shortcuts": "option A" if shortcut else "none",
        "seed": args.seed, "epochs": args.epochs, "train_images": len(x_train), "batch": args.batch,
        "lr": args.lr, "momentum": 0.9, "weight_decay": 1e-4,
        "schedule": "lr / 10 at 1/2 and 3/4 of the steps", "augmentation": "none",
        "input_mean": round(mean, 6), "input_std": round(std, 6),
        "torch_version": torch.__version__, "threads": args.threads,
        "train_minutes": round(train_seconds / 60, 1),
        "history": history, "params": sum(p.numel() for p in net.parameters()),
        "train_error": history[-1]["train_error"],
        "test_images": len(y_test), "test_correct": int(hit.sum().item()), "test_accuracy": round(acc, 4),
        "test_error": round(1.0 - acc, 4), "per_class_accuracy": per_class,
        # torch's argmax over the 10k test images in file order, for ondine to agree with.
        "predictions": pred.tolist(),
    }
    # One key per line, the 10k predictions on one line of their own.
    preds = record.pop("predictions")
    text = json.dumps(record, indent=1)[:-2] + ',\n "predictions": ' + json.dumps(preds) + "\n}\n"
    with open(os.path.join(args.out, f"{args.arch}_fashion.json"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
