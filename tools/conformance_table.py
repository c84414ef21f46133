#!/usr/bin/python3
"""conformance_table.py: docs/conformance.md from the JSON reports of `ondine test --json`
that tools/conformance.py (or ctest) leaves in a folder: <suite>.json for the libonnx-testdata
suites, models.json and models-subset.json for the exported CNNs. Every number on the page
comes from those reports. Usage: conformance_table.py REPORT_DIR [-o FILE]"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys

SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
HERE = os.path.dirname(os.path.abspath(__file__))


def load(folder, name):
    path = os.path.join(folder, name)
    return json.load(open(path)) if os.path.exists(path) else None


def num(v):
    if isinstance(v, str):
        return v
    return "0" if v == 0 else f"{v:.2g}"


def totals_row(name, r):
    t = r["totals"]
    return (f"| {name} | {t['total']} | {t['passed']} | {t['failed']} | {t['errors']} | "
            f"{t['skipped']} |")


def skip_kind(case):
    """'not implemented' for ops the registry lacks, else the loader's own words (an op
    ondine implements refusing an attribute, type or mode)."""
    reason = case["reason"]
    if case.get("skip_kind") == "not_implemented":
        return "not implemented"
    m = re.search(r"\): (.*)", reason)
    return m.group(1) if m else reason


def suite_section(name, r, out):
    t = r["totals"]
    out.append(f"### {name}\n")
    out.append(f"{t['total']} cases: {t['passed']} passed, {t['failed']} failed, "
               f"{t['errors']} errors, {t['skipped']} skipped: "
               f"{t.get('skipped_not_implemented', 0)} use an op (or opset) ondine does not "
               f"implement, {t.get('skipped_unsupported_feature', 0)} an attribute, type or "
               f"mode that an op it implements refuses, {t.get('skipped_skip_list', 0)} are in "
               "a skip list.\n")
    ran = collections.defaultdict(lambda: collections.Counter())
    for c in r["cases"]:
        if c["status"] != "skip":
            for op in c["ops"]:
                ran[op][c["status"]] += 1
    if ran:
        out.append("Ops that run, by the cases that use them (a case counts once for each op "
                   "in its model):\n")
        out.append("| op | cases | passed | failed | errors |")
        out.append("|---|---|---|---|---|")
        for op in sorted(ran, key=str.lower):
            n = ran[op]
            out.append(f"| {op} | {sum(n.values())} | {n['pass']} | {n['fail']} | "
                       f"{n['error']} |")
        out.append("")
    bad = [c for c in r["cases"] if c["status"] in ("fail", "error")]
    if bad:
        out.append("Failing cases:\n")
        for c in bad:
            out.append(f"- `{c['name']}` ({c['status']}): {c['reason']}")
        out.append("")
    listed = [c for c in r["cases"] if c["status"] == "skip" and
              c["reason"].startswith("skip list: ")]
    if listed:
        out.append("Skipped by the skip lists (tests/*_skip.txt), with their reasons:\n")
        out.append("| case | reason |")
        out.append("|---|---|")
        for c in listed:
            out.append(f"| `{c['name']}` | {c['reason'][len('skip list: '):]} |")
        out.append("")
    unsup = collections.defaultdict(list)
    for c in r["cases"]:
        if c["status"] == "skip" and not c["reason"].startswith("skip list: "):
            for op in c["skip_ops"] or ["(no op named)"]:
                unsup[op].append(c)
    if unsup:
        out.append("Skipped because the loader refuses them as unsupported, by the op the "
                   "message names:\n")
        out.append("| op | cases | why |")
        out.append("|---|---|---|")
        for op in sorted(unsup, key=str.lower):
            kinds = sorted({skip_kind(c) for c in unsup[op]})
            out.append(f"| {op} | {len(unsup[op])} | {'; '.join(kinds)} |")
        out.append("")


def sweep_size():
    out = subprocess.run([sys.executable, os.path.join(HERE, "models", "export_torchvision.py"),
                          "--list"], capture_output=True, text=True).stdout
    return len(out.splitlines())


def models_section(title, r, out, full):
    t = r["totals"]
    out.append(f"### {title}\n")
    line = (f"{t['total']} folders tested: {t['passed']} passed, {t['failed']} failed, "
            f"{t['errors']} errors")
    if full:
        line += f" (the sweep has {sweep_size()} torchvision folders plus caffe2_resnet50_op9)"
    out.append(line + f"; batches {r['options']['batches']}, each a data set; "
               f"{r['options']['threads']} thread(s) per session; wall times, not "
               "benchmarks.\n")
    out.append("| model | BN | opset | status | max abs error | max rel error | atol | "
               "largest \\|ref\\| | -O2 vs -O0 max abs | test s |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for c in sorted(r["cases"], key=lambda c: (c["model"], c["bn"], c["opset"])):
        outs = c["outputs"]
        lv = c.get("levels") or []
        abs_ = max((o["max_abs"] for o in outs), default=0, key=float)
        rel = max((o["max_rel"] for o in outs), default=0, key=float)
        lvl = max((o["max_abs"] for o in lv), default=0, key=float)
        status = c["status"].upper()
        if c["status"] in ("fail", "error"):
            status += f": {c['reason']}"
        scale = num(c["max_ref"]) if "max_ref" in c else "?"
        out.append(f"| {c['model']} | {c['bn']} | {c['opset']} | {status} | {num(abs_)} | "
                   f"{num(rel)} | {num(c['atol'])} | {scale} | {num(lvl)} | "
                   f"{c['seconds']:.1f} |")
    out.append("")
    if r.get("not_exported"):
        out.append("Not exported (the exporter refused):\n")
        for n in r["not_exported"]:
            out.append(f"- `{n['name']}`: {n['reason']}")
        out.append("")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("reports")
    p.add_argument("-o", "--output")
    args = p.parse_args()
    out = ["# Conformance", "",
           "<!-- Generated by tools/conformance_table.py from `ondine test --json` reports; "
           "do not edit. -->", "",
           "What `ondine test` reports for the ONNX backend suites of Debian's "
           "libonnx-testdata (ONNX 1.12) and for torchvision CNNs exported with seeded random "
           "weights. Every case runs through a session at -O2 and again at -O0 "
           "(`--compare-levels`); outputs must match the reference within "
           "|got - ref| <= atol + rtol*|ref| (integers exactly, NaN only NaN). Regenerate:", "",
           "    make conformance   # suites and the whole model sweep (long), then this page",
           "    /usr/bin/python3 tools/conformance.py --ondine build/bin/ondine "
           "--out build/conformance --table docs/conformance.md",
           "    /usr/bin/python3 tools/conformance_table.py build/conformance "
           "-o docs/conformance.md   # the page only", "",
           "`make check` runs the four suites and the model subset (ResNet-18 and ResNet-50, "
           "BN kept and folded, opset 13) and leaves their reports in build/conformance.", ""]
    suites = [(s, load(args.reports, s + ".json")) for s in SUITES]
    suites = [(s, r) for s, r in suites if r]
    models = load(args.reports, "models.json")
    subset = load(args.reports, "models-subset.json")
    out += ["## Summary", "", "| suite | cases | passed | failed | errors | skipped |",
            "|---|---|---|---|---|---|"]
    for s, r in suites:
        out.append(totals_row(s, r))
    if models:
        out.append(totals_row("models (sweep)", models))
    if subset:
        out.append(totals_row("models (make check subset)", subset))
    out.append("")
    if suites:
        opts = suites[0][1]["options"]
        out += ["## ONNX backend suites", "",
                f"rtol {opts['rtol']:g}, atol {opts['atol']:g}. SKIP means the loader refused "
                "the model as unsupported: an op (or opset) ondine does not implement, or an "
                "op it implements refusing an attribute, type or mode (training-mode "
                "BatchNormalization or Dropout, MaxPool's indices, uint8 MaxPool, a string "
                "Cast); or a skip list names the case.", ""]
        for s, r in suites:
            suite_section(s, r, out)
    if models or subset:
        out += ["## Models", "",
                "Exported by tools/models/export_torchvision.py (BN kept: BatchNormalization "
                "nodes; folded: the exporter folds them into Conv) and "
                "tools/models/make_caffe2_resnet50.py; reference outputs are torch's. The "
                "exporter gives the models weights of sane magnitude (each BN's statistics "
                "from its own input on a random batch, the classifier scaled to logits of "
                "standard deviation 1). rtol 1e-3 and a fixed atol (tools/conformance.py). "
                "Errors are the largest over outputs and batches.", ""]
        if models:
            models_section("The sweep", models, out, True)
        if subset:
            models_section("The make check subset", subset, out, False)
    text = "\n".join(out).rstrip() + "\n"
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
