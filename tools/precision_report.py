#!/usr/bin/python3
"""precision_report.py: how far ondine's bf16 and int8 sessions stray from its fp32 sessions,
as the Markdown tables of docs/precision.md (issue 7's accuracy report).

Measures, on this machine, with 2 threads:
1. Fashion-MNIST (trained models in examples/models, real images): test accuracy of
   plain20, plain56, resnet20 and resnet56 in fp32, bf16 and int8 through BUILD_DIR/bin/classify_fashion
   (int8 calibrated on the first 1000 training images, never on test images), the difference
   to fp32 in points against the issue's bars (bf16 at most 0.3 points below fp32, int8 at
   most 1.0), and how many images each labels differently from torch.
2. torchvision models with seeded random weights (tools/models/export_torchvision.py, opset 13,
   BatchNorm kept): the same seeded random inputs through fp32, bf16 and int8 sessions (int8
   calibrated on other seeded inputs): max |error| against fp32, max |error| / max |fp32| per
   row, top-1 agreement with fp32; and ondine fp32 against torch's own output.

usage: /usr/bin/python3 tools/precision_report.py BUILD_DIR [--write docs/precision.md] [--quick]
--quick leaves out resnet50, googlenet and vgg16. Needs Debian's dataset-fashion-mnist and
/usr/bin/python3's torch, torchvision, onnx and numpy. Exits 1 with a message on any failure.
"""
import argparse
import datetime
import os
import re
import shlex
import subprocess
import sys
import textwrap

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- begin precision_report -->", "<!-- end precision_report -->"
THREADS = 2
FASHION = ["plain20", "plain56", "resnet20", "resnet56"]
CONFORMANCE = ["resnet18", "resnet50", "mobilenet_v2", "googlenet", "vgg16"]
QUICK_SKIP = {"resnet50", "googlenet", "vgg16"}
BARS = {"bf16": 0.3, "int8": 1.0}  # points of accuracy a precision may lose against fp32
CALIB_SETS, CALIB_SEED = 4, 1      # int8 calibration: 4 inputs of batch 1
EVAL_ROWS, EVAL_SEED = 8, 2        # evaluation: 8 other inputs, one batch


def para(text):
    """A generated paragraph wrapped as docs/precision.md is."""
    return textwrap.fill(text, 95, break_on_hyphens=False)


def fail(msg):
    sys.exit(f"precision_report: {msg}")


def run(cmd):
    """stdout of a command; its stderr and status in the message when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"{shlex.join(cmd)} exited {p.returncode}:\n{p.stderr.strip()}")
    return p.stdout


def machine(build):
    """CPU model, cores, and the ISA oneDNN dispatches to (from its verbose banner)."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    # The banner is printed at the first primitive: one image is enough.
    os.environ["ONEDNN_VERBOSE"] = "1"
    out = run([os.path.join(build, "bin", "classify_fashion"), model_path("resnet20"),
               "--limit", "1", "--threads", str(THREADS)])
    del os.environ["ONEDNN_VERBOSE"]
    version = re.search(r"onednn_verbose,info,(oneDNN v[\d.]+)", out)
    isa = re.search(r"onednn_verbose,info,cpu,isa:(.*)", out)
    return (f"{cpu}, {os.cpu_count()} cores; {version.group(1) if version else 'oneDNN'}, "
            f"ISA: {isa.group(1).strip() if isa else 'unknown'}")


def model_path(name):
    return os.path.join(ROOT, "examples", "models", f"{name}_fashion.onnx")


def fashion(build):
    """One row per model: accuracies, differences and torch disagreements per precision."""
    exe = os.path.join(build, "bin", "classify_fashion")
    rows = []
    for name in FASHION:
        row = {"model": name}
        for prec in ["fp32", "bf16", "int8"]:
            out = run([exe, model_path(name), "--threads", str(THREADS), "--precision", prec,
                       "--compare", model_path(name)[:-len(".onnx")] + ".json"])
            acc = re.search(r"^accuracy\s+\S+% \((\d+)/(\d+)\)", out, re.M)
            cmp = re.search(r"torch \S+% \((\d+)/\d+\); ondine labels (\d+) of", out)
            if not acc or not cmp:
                fail(f"classify_fashion {name} {prec}: no accuracy or compare line in:\n{out}")
            row[prec] = 100.0 * int(acc.group(1)) / int(acc.group(2))
            row["torch"] = 100.0 * int(cmp.group(1)) / int(acc.group(2))
            row[prec + "_differ"] = int(cmp.group(2))
            print(f"  {name} {prec}: {row[prec]:.2f}%", file=sys.stderr)
        rows.append(row)
    return rows


def fashion_table(rows):
    lines = ["| model | torch fp32 | fp32 | bf16 | bf16 - fp32 | int8 | int8 - fp32 "
             "| images labelled unlike torch (fp32 / bf16 / int8) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['torch']:.2f}% | {r['fp32']:.2f}% | "
                     f"{r['bf16']:.2f}% | {r['bf16'] - r['fp32']:+.2f} | {r['int8']:.2f}% | "
                     f"{r['int8'] - r['fp32']:+.2f} | {r['fp32_differ']} / {r['bf16_differ']} "
                     f"/ {r['int8_differ']} |")
    verdicts = []
    for prec, bar in BARS.items():
        worst = min(rows, key=lambda r: r[prec] - r["fp32"])
        drop = worst["fp32"] - worst[prec]
        verdicts.append(f"{prec} at most {bar} points below fp32: "
                        f"{'holds' if drop <= bar + 1e-9 else 'FAILS'} "
                        f"(largest loss {drop:.2f} points, {worst['model']})")
    return lines + ["", para("Issue 7's bars: " + "; ".join(verdicts) + ".")]


def find_model(build, name):
    """model.onnx and its batch-1 test set from an earlier export, else a fresh export."""
    folder = f"{name}_bnkeep_op13"
    for parent in ["conformance/models", "models", "precision_models"]:
        d = os.path.join(build, parent, folder)
        if os.path.exists(os.path.join(d, "model.onnx")) and \
                os.path.exists(os.path.join(d, "test_data_set_0", "output_0.pb")):
            return d
    out = os.path.join(build, "precision_models")
    print(f"  exporting {name} to {out}", file=sys.stderr)
    run([sys.executable, os.path.join(ROOT, "tools", "models", "export_torchvision.py"),
         "--model", name, "--opset", "13", "--bn", "keep", "--batches", "1", "--out", out])
    return os.path.join(out, folder)


def read_pb(path):
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def errors(got, want):
    """max |got - want|, and the largest per-row max |got - want| / max |want|."""
    diff = np.abs(got - want).reshape(len(want), -1)
    scale = np.abs(want).reshape(len(want), -1).max(axis=1)
    return float(diff.max()), float((diff.max(axis=1) / scale).max())


def conformance(build, models):
    import ondine
    rows = []
    for name in models:
        d = find_model(build, name)
        path = os.path.join(d, "model.onnx")
        shape = (3, 224, 224)
        calib = [{"input": np.random.default_rng([CALIB_SEED, i]).standard_normal(
            (1,) + shape, dtype=np.float32)} for i in range(CALIB_SETS)]
        x = np.random.default_rng(EVAL_SEED).standard_normal((EVAL_ROWS,) + shape,
                                                             dtype=np.float32)
        try:
            fp32 = ondine.InferenceSession(path, threads=THREADS)
            want = fp32.run(None, {"input": x})[0]
            torch_in = read_pb(os.path.join(d, "test_data_set_0", "input_0.pb"))
            torch_out = read_pb(os.path.join(d, "test_data_set_0", "output_0.pb"))
            row = {"model": name, "scale": float(np.abs(want).max()),
                   "torch": errors(fp32.run(None, {"input": torch_in})[0], torch_out)}
            del fp32
            for prec in ["bf16", "int8"]:
                s = ondine.InferenceSession(path, threads=THREADS, precision=prec,
                                            calibration=calib if prec == "int8" else None)
                got = s.run(None, {"input": x})[0]
                differ = np.flatnonzero(got.argmax(axis=1) != want.argmax(axis=1))
                row[prec] = errors(got, want) + (EVAL_ROWS - len(differ),)
                # A top-1 flip means little when fp32's two best logits were nearly tied.
                for i in differ:
                    top2 = np.sort(want[i])[-2:]
                    row.setdefault("flips", []).append(
                        f"{name} {prec}, row {i}: fp32's top two logits differ by "
                        f"{100 * (top2[1] - top2[0]) / np.abs(want[i]).max():.2f}% of the row's "
                        f"scale, the row's {prec} error is "
                        f"{100 * np.abs(got[i] - want[i]).max() / np.abs(want[i]).max():.2f}%")
                del s
        except ondine.OndineError as e:
            fail(f"{name}: {e}")
        print(f"  {name}: top-1 agreement bf16 {row['bf16'][2]}/{EVAL_ROWS}, "
              f"int8 {row['int8'][2]}/{EVAL_ROWS}", file=sys.stderr)
        rows.append(row)
    return rows


def conformance_table(rows):
    lines = ["| model | max \\|fp32\\| | bf16 max abs error | bf16 relative to scale | "
             "bf16 top-1 | int8 max abs error | int8 relative to scale | int8 top-1 | "
             "fp32 vs torch, relative to scale |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r["model"], f"{r['scale']:.3g}"]
        for prec in ["bf16", "int8"]:
            err, rel, agree = r[prec]
            cells += [f"{err:.3g}", f"{100 * rel:.2f}%", f"{agree} / {EVAL_ROWS}"]
        cells.append(f"{r['torch'][1]:.1e}")
        lines.append("| " + " | ".join(cells) + " |")
    flips = [f for r in rows for f in r.get("flips", [])]
    if flips:
        lines += ["", para("Top-1 disagreements with fp32: " + "; ".join(flips) + ".")]
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("build", metavar="BUILD_DIR", help="ondine build folder (cmake -B)")
    p.add_argument("--write", metavar="MD",
                   help=f"replace the text between {BEGIN} and {END} in this file")
    p.add_argument("--quick", action="store_true",
                   help="skip " + ", ".join(sorted(QUICK_SKIP)))
    args = p.parse_args()
    build = os.path.abspath(args.build)
    lib = os.path.join(build, "lib", "libondine.so")
    for need in [lib, os.path.join(build, "bin", "classify_fashion")]:
        if not os.path.exists(need):
            fail(f"{need} is missing: build first (make, or cmake --build {args.build})")
    # Before the import: the binding loads the library of this build, not an installed one.
    os.environ["ONDINE_LIBRARY"] = lib
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.path.insert(0, os.path.join(ROOT, "python"))
    if args.write:
        with open(args.write) as f:
            doc = f.read()
        if doc.count(BEGIN) != 1 or doc.count(END) != 1 or doc.index(BEGIN) > doc.index(END):
            fail(f"{args.write} needs one {BEGIN} line followed by one {END} line")

    models = [m for m in CONFORMANCE if not (args.quick and m in QUICK_SKIP)]
    commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    quick = f" (--quick: without {', '.join(sorted(QUICK_SKIP))})" if args.quick else ""
    head = [para(f"Generated by `{shlex.join(['/usr/bin/python3'] + sys.argv)}` on "
                 f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit "
                 f"{commit}{quick}. Machine: {machine(build)}. Every session runs with "
                 f"{THREADS} threads."), ""]
    print("Fashion-MNIST", file=sys.stderr)
    part1 = ["### Fashion-MNIST, 10,000 test images", "",
             para("int8 sessions are calibrated on the first 1000 training images. The last "
                  "column counts the test images each precision labels differently from torch "
                  "fp32."), ""]
    part1 += fashion_table(fashion(build))
    print("torchvision models", file=sys.stderr)
    part2 = ["", "### torchvision models, seeded random weights", "",
             para(f"opset 13, BatchNorm kept; {EVAL_ROWS} inputs of `np.random.default_rng("
             f"{EVAL_SEED}).standard_normal` (one batch), the same for every precision. int8 "
             f"is calibrated on {CALIB_SETS} other inputs of batch 1 (`default_rng(["
             f"{CALIB_SEED},i])`). Errors are against ondine fp32 on the same inputs; "
             "\"relative to scale\" is the largest per-row max \\|got - fp32\\| / max \\|fp32\\|. "
             "The last column compares ondine fp32 with torch on the exporter's batch-1 "
                  "input."), ""]
    part2 += conformance_table(conformance(build, models))
    text = "\n".join(head + part1 + part2)
    print(text)
    if args.write:
        start = doc.index(BEGIN) + len(BEGIN)
        with open(args.write, "w") as f:
            f.write(doc[:start] + "\n" + text + "\n" + doc[doc.index(END):])


if __name__ == "__main__":
    main()
