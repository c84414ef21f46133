#!/usr/bin/python3
"""conformance.py: the conformance sweep behind docs/conformance.md.

Runs `ondine test --json` on the ONNX backend suites of libonnx-testdata (node, with its skip
lists, pytorch-converted, pytorch-operator, simple) and on CNN models exported as backend-test
folders: the torchvision models of tools/models/export_torchvision.py (its MODELS: the
classification models of torchvision 0.14 and three segmentation heads, BN kept and folded,
opsets 11 to 17, a symbolic batch, data sets of batches 1 and 2) and
tools/models/make_caffe2_resnet50.py. Every case also runs at -O0 (--compare-levels). Reports
land in OUT/<suite>.json, the models merged into OUT/models.json (OUT/models-subset.json for
--subset), in the format of `ondine test --json`, with the date and command of each run;
tools/conformance_table.py turns them into docs/conformance.md.

The opset 17 BN-kept folders of RESTAMP are also restamped at opsets 18, 21 and 25 and IR 8
to 11 and compared with ONNX Runtime (tools/models/restamp.py, when onnxruntime-node is in
BUILD/node; --no-restamp skips it): reports in OUT/restamp/<model>.json.

Model outputs are compared with rtol 1e-3 and a fixed atol (ATOL): the exporter gives the
models weights of sane magnitude (BN statistics from data, logits of standard deviation 1), so
a tolerance that grows with the outputs is not needed; float32 accumulation in another order
moves logits of that scale by 3.6e-5 at most (ResNet-152; measurements beside ATOL). Two
models where float32 itself errs more get a larger fixed atol (ATOL_MODELS, measured against
float64).

--subset is what `make check` runs: ResNet-18 and ResNet-50, BN kept and folded, opset 13, and
MobileNetV3-small, ShuffleNetV2, MnasNet and LRASPP (opset 17, BN kept).
Exported folders that already hold their data are reused (--fresh re-exports); --clean deletes
each folder once tested, but the subset's (the full sweep's VGGs take ~530 MB a folder).
Run with /usr/bin/python3 (Debian's torch, onnx, numpy)."""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.join(HERE, "models", "export_torchvision.py")
CAFFE2 = os.path.join(HERE, "models", "make_caffe2_resnet50.py")
SRC = os.path.dirname(HERE)
TESTDATA = "/usr/share/libonnx-testdata/data"
SUITES = {
    "node": ["tests/node_skip.txt"],
    "pytorch-converted": [],
    "pytorch-operator": [],
    "simple": [],
}
SUBSET = [("resnet18", 13, "keep"), ("resnet18", 13, "fold"),
          ("resnet50", 13, "keep"), ("resnet50", 13, "fold"),
          # the ops of the families beyond ResNet: squeeze-and-excitation and HardSwish,
          # channel split and shuffle (Slice, Transpose), ReduceMean, a Resize head
          ("mobilenet_v3_small", 17, "keep"), ("shufflenet_v2_x1_0", 17, "keep"),
          ("mnasnet1_0", 17, "keep"), ("lraspp_mobilenet_v3_large", 17, "keep")]
BATCHES = "1,2"
# Measured at opset 13, BN kept, batches 1 and 4: the largest |got - ref| against torch and
# between -O2 and -O0 was 3.6e-6 (ResNet-18), 9.5e-6 (ResNet-50), 3.6e-5 (ResNet-152), on
# logits of standard deviation 1 (largest |logit| about 3).
ATOL = 1e-4
# Two seeded models where float32 itself is that far off: torch's own float32 output misses its
# float64 output (model.double()) by 1.45e-4 (inception_v3) and 9.4e-5 (deeplabv3_resnet50, its
# 224x224 map), ONNX Runtime by 1.35e-4 and 5.7e-5, ondine by 1.8e-4 and 1.2e-4 (batch 2,
# opset 17, BN kept); ondine against torch then reached 2.7e-4 and ondine -O2 against -O0
# 3.2e-4 on inception_v3's logits (measured 2026-12-05).
ATOL_MODELS = {"inception_v3": 5e-4, "deeplabv3_resnet50": 3e-4}
EXPORTER_VERSION = "2"  # tools/models/export_torchvision.py's VERSION
RESTAMP_MODELS = ["resnet50", "convnext_tiny", "mnasnet1_0", "deeplabv3_resnet50"]
RESTAMP = os.path.join(HERE, "models", "restamp.py")


def sweep(args):
    """(model, opset, bn) of the exporter's full sweep, narrowed by --models/--opsets/--bn."""
    out = subprocess.run([sys.executable, EXPORT, "--list"], check=True, capture_output=True,
                         text=True).stdout
    combos = [(m, int(o), b) for m, o, b in (line.split() for line in out.splitlines())]

    def chosen(v, sel):
        return not sel or str(v) in sel.split(",")
    return [c for c in combos
            if chosen(c[0], args.models) and chosen(c[1], args.opsets) and chosen(c[2], args.bn)]


def complete(folder, n_sets, torchvision=True):
    """Exported with its data sets, and by this exporter's version (older ones had other
    weights)."""
    version = os.path.join(folder, "exporter_version")
    if torchvision and not (os.path.exists(version) and open(version).read().strip() ==
                            EXPORTER_VERSION):
        return False
    if not all(os.path.exists(os.path.join(folder, p)) for p in
               ["model.onnx"] + [f"test_data_set_{k}/output_0.pb" for k in range(n_sets)]):
        return False
    # data sets of other batches (earlier sweeps took 1 and 4) are exported again
    for k, b in enumerate(BATCHES.split(",")):
        t = onnx.load_tensor(os.path.join(folder, f"test_data_set_{k}", "input_0.pb"))
        if not t.dims or t.dims[0] != int(b):
            return False
    return True


def export(combo, models_dir, fresh):
    """Exports one folder unless it is there; returns (folder, None) or (None, why not)."""
    if combo == "caffe2":
        folder = os.path.join(models_dir, "caffe2_resnet50_op9")
        cmd = [sys.executable, CAFFE2, "--out", models_dir, "--batches", BATCHES]
    else:
        m, o, b = combo
        folder = os.path.join(models_dir, f"{m}_bn{b}_op{o}")
        cmd = [sys.executable, EXPORT, "--model", m, "--opset", str(o), "--bn", b,
               "--batches", BATCHES, "--out", models_dir]
    n_sets = len(BATCHES.split(","))
    tv = combo != "caffe2"
    if complete(folder, n_sets, tv) and not fresh:
        return folder, None
    shutil.rmtree(folder, ignore_errors=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if complete(folder, n_sets, tv):
        return folder, None
    why = (p.stdout + p.stderr).strip().splitlines()
    shutil.rmtree(folder, ignore_errors=True)
    return None, why[-1] if why else f"exit status {p.returncode}"


def largest_reference(folder):
    top = 0.0
    for k in range(len(BATCHES.split(","))):
        d = os.path.join(folder, f"test_data_set_{k}")
        for f in sorted(os.listdir(d)):
            if f.startswith("output_"):
                t = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, f)))
                top = max(top, float(np.abs(t.astype(np.float64)).max(initial=0)))
    return top


def ondine_test(args, paths, json_path, extra=()):
    cmd = [args.ondine, "test", *paths, "--compare-levels", "--threads", str(args.threads),
           "--json", json_path, *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    # The case lines; the totals come once at the end.
    sys.stdout.write("".join(l for l in p.stdout.splitlines(True) if " passed, " not in l))
    sys.stdout.flush()
    if p.returncode not in (0, 1):
        # A crash leaves no report: say so, as the case line would have.
        why = (p.stderr.strip().splitlines() or [""])[-1]
        print(f"ERROR {' '.join(paths)}: ondine test exited {p.returncode} {why}".rstrip(),
              flush=True)
        return None
    return json.load(open(json_path))


def run_suites(args):
    failed = False
    for suite, skips in SUITES.items():
        print(f"== {suite}", flush=True)
        extra = [a for s in skips for a in ("--skip-list", os.path.join(SRC, s))]
        r = ondine_test(args, [os.path.join(TESTDATA, suite)],
                        os.path.join(args.out, f"{suite}.json"), extra)
        if not r:
            failed = True
            continue
        t = r["totals"]
        print(f"{suite}: {t['passed']} passed, {t['failed']} failed, {t['errors']} errors, "
              f"{t['skipped']} skipped", flush=True)
        failed |= t["failed"] + t["errors"] > 0
    return failed


def restamp(args, folder, model):
    """tools/models/restamp.py on an opset 17 folder, with the library beside args.ondine;
    its records land in OUT/restamp/<model>.json. Returns whether it failed."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(args.ondine)))
    out = os.path.join(args.out, "restamp")
    os.makedirs(out, exist_ok=True)
    cmd = [sys.executable, RESTAMP, os.path.join(folder, "model.onnx"), "--check",
           "--build", build, "--out", os.path.join(out, "files"),
           "--json", os.path.join(out, model + ".json"),
           "--atol", "%g" % ATOL_MODELS.get(model, ATOL)]
    cmd += [a for o in (18, 21, 25) for a in ("--opset", str(o))]
    cmd += [a for ir in (8, 9, 10, 11) for a in ("--ir", str(ir))]
    env = dict(os.environ, ONDINE_LIBRARY=os.path.join(build, "lib", "libondine.so.0"),
               OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    sys.stdout.write(p.stdout)
    if p.returncode == 77:
        return False
    if p.returncode:
        print(f"ERROR restamp {model}: exit {p.returncode} "
              f"{(p.stderr.strip().splitlines() or [''])[-1]}", flush=True)
    return p.returncode != 0


def run_models(args):
    models_dir = os.path.join(args.out, "models")
    reports = os.path.join(args.out, "reports")
    os.makedirs(reports, exist_ok=True)
    combos = SUBSET if args.subset else sweep(args)
    if not args.subset and not args.no_caffe2:
        combos = combos + ["caffe2"]
    cases, not_exported, restamp_failed = [], [], False
    try:
        for combo in combos:
            t0 = time.monotonic()
            folder, why = export(combo, models_dir, args.fresh)
            label = "caffe2_resnet50_op9" if combo == "caffe2" else "%s_bn%s_op%d" % (
                combo[0], combo[2], combo[1])
            if not folder:
                print(f"NOT EXPORTED {label}: {why}", flush=True)
                not_exported.append({"name": label, "reason": why})
                continue
            exported = time.monotonic() - t0
            top = largest_reference(folder)
            t1 = time.monotonic()
            atol = ATOL if combo == "caffe2" else ATOL_MODELS.get(combo[0], ATOL)
            r = ondine_test(args, [folder], os.path.join(reports, label + ".json"),
                            ["--atol", "%g" % atol])
            if not r:
                r = {"cases": [{"name": label, "path": folder, "status": "error",
                                "reason": "ondine test crashed", "ops": [], "skip_ops": [],
                                "sets": 0, "seconds": time.monotonic() - t1, "outputs": [],
                                "levels": []}]}
            for c in r["cases"]:
                c["atol"] = atol
                c["max_ref"] = float("%.3g" % top)
                c["export_seconds"] = round(exported, 1)
                if combo == "caffe2":
                    c.update(model="caffe2_resnet50", bn="keep", opset=9)
                else:
                    c.update(model=combo[0], bn=combo[2], opset=combo[1])
                cases.append(c)
            if (not args.subset and not args.no_restamp and combo != "caffe2"
                    and combo[0] in RESTAMP_MODELS and combo[1:] == (17, "keep")):
                restamp_failed |= restamp(args, folder, combo[0])
            if args.clean and combo not in SUBSET:
                shutil.rmtree(folder, ignore_errors=True)
    except KeyboardInterrupt:
        # An interrupted run reports what it tested; the page lists the rest as not run.
        print("interrupted: the report holds the folders tested so far", flush=True)
        args.interrupted = True
    name = "models-subset.json" if args.subset else "models.json"
    path = os.path.join(args.out, name)
    if (args.models or args.opsets or args.bn) and os.path.exists(path):
        # A narrowed run updates its entries of the earlier report and keeps the rest.
        ran = {c["name"] for c in cases} | {n["name"] for n in not_exported}
        old = json.load(open(path))
        cases = [c for c in old["cases"] if c["name"] not in ran] + cases
        not_exported = [n for n in old["not_exported"] if n["name"] not in ran] + not_exported
    totals = {k: sum(c["status"] == s for c in cases)
              for k, s in (("passed", "pass"), ("failed", "fail"), ("errors", "error"),
                           ("skipped", "skip"))}
    totals["total"] = len(cases)
    version = subprocess.run([args.ondine, "--version"], capture_output=True, text=True)
    merged = {"ondine": version.stdout.strip(),
              "options": {"rtol": 1e-3, "atol": ATOL,
                          "compare_levels": True, "threads": args.threads,
                          "batches": BATCHES, "subset": args.subset},
              "cases": cases, "not_exported": not_exported, "totals": totals}
    with open(path, "w") as f:
        json.dump(merged, f, indent=1)
    print("models: %d passed, %d failed, %d errors, %d not exported" % (
        totals["passed"], totals["failed"], totals["errors"], len(not_exported)))
    return totals["failed"] + totals["errors"] > 0 or restamp_failed


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main():
    # SIGTERM, and SIGINT also where a shell started the sweep in the background with SIGINT
    # ignored, end the model loop the way Ctrl-C does: the report keeps what was tested.
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ondine", required=True, help="the ondine binary")
    p.add_argument("--out", required=True, help="folder for exports and reports")
    p.add_argument("--subset", action="store_true", help="the make check subset only")
    p.add_argument("--no-suites", action="store_true", help="skip the libonnx-testdata suites")
    p.add_argument("--no-models", action="store_true", help="skip the model sweep")
    p.add_argument("--no-caffe2", action="store_true")
    p.add_argument("--no-restamp", action="store_true",
                   help="skip restamping the opset 17 folders of RESTAMP_MODELS")
    p.add_argument("--models", help="comma list narrowing the sweep's models")
    p.add_argument("--opsets", help="comma list narrowing the sweep's opsets")
    p.add_argument("--bn", help="keep, fold or keep,fold")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fresh", action="store_true", help="re-export folders already there")
    p.add_argument("--clean", action="store_true",
                   help="delete model folders once tested, but the subset's")
    p.add_argument("--table", help="write the markdown of tools/conformance_table.py here")
    args = p.parse_args()
    args.interrupted = False
    os.makedirs(args.out, exist_ok=True)
    started, t0 = time.time(), time.monotonic()
    failed = False
    if not args.subset and not args.no_suites:
        failed |= run_suites(args)
    if not args.no_models:
        failed |= run_models(args)
    # OUT/runs.json: the date and command of every run into OUT, for the page
    runs_path = os.path.join(args.out, "runs.json")
    runs = json.load(open(runs_path)) if os.path.exists(runs_path) else []
    runs.append({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
                 "minutes": round((time.monotonic() - t0) / 60, 1),
                 "command": " ".join(["tools/conformance.py"] + sys.argv[1:]),
                 "interrupted": args.interrupted})
    with open(runs_path, "w") as f:
        json.dump(runs, f, indent=1)
    if args.table:
        subprocess.run([sys.executable, os.path.join(HERE, "conformance_table.py"), args.out,
                        "-o", args.table], check=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
