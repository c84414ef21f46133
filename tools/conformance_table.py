#!/usr/bin/python3
"""conformance_table.py: docs/conformance.md from the JSON reports of `ondine test --json`
that tools/conformance.py (or ctest) leaves in a folder: <suite>.json for the libonnx-testdata
suites, models.json and models-subset.json for the exported CNNs, restamp/<model>.json for the
restamped models and runs.json for the date and command of each run. Every number on the page
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


def sweep_list():
    """(model, opset, bn) of the exporter's full sweep."""
    out = subprocess.run([sys.executable, os.path.join(HERE, "models", "export_torchvision.py"),
                          "--list"], capture_output=True, text=True, check=True).stdout
    return [(m, int(o), b) for m, o, b in (line.split() for line in out.splitlines())]


def not_run(r, out):
    """The sweep's folders that no run tested, by opset and BN mode."""
    done = {c["name"] for c in r["cases"]} | {n["name"] for n in r.get("not_exported", [])}
    missing = collections.defaultdict(list)
    combos = sweep_list()
    for m, o, b in combos:
        if f"{m}_bn{b}_op{o}" not in done:
            missing[(o, b)].append(m)
    if not missing:
        return
    n_models = len({m for m, _, _ in combos})
    out.append(f"Not run ({sum(map(len, missing.values()))} of the sweep's {len(combos)} "
               "folders):\n")
    for (o, b), ms in sorted(missing.items()):
        which = f"all {n_models} models" if len(ms) == n_models else ", ".join(ms)
        out.append(f"- opset {o}, BN {b}: {which}")
    out.append("")


def runs_section(runs, out):
    out.append("## Runs\n")
    out.append("What produced the reports on this page, in order (a later run replaces the "
               "cases it repeats); commands from the repository root, `/usr/bin/python3` "
               "before each:\n")
    out.append("| started | minutes | command |")
    out.append("|---|---|---|")
    for r in runs:
        stop = ", interrupted" if r.get("interrupted") else ""
        out.append(f"| {r['date']} | {r['minutes']}{stop} | `{r['command']}` |")
    out.append("")


def restamp_section(folder, out):
    """The restamped models against ONNX Runtime (tools/models/restamp.py --json)."""
    d = os.path.join(folder, "restamp")
    reports = sorted(f for f in os.listdir(d) if f.endswith(".json")) if os.path.isdir(d) else []
    if not reports:
        return
    out += ["## Newer opsets: restamped models against ONNX Runtime", "",
            "The opset 17 BN-kept exports above, restamped by tools/models/restamp.py as newer "
            "exporters write them (opset 18's signature changes applied) at opsets 18, 21 and "
            "25 and IR 8 to 11, run by ondine (-O0 and -O2 at each opset's first IR, -O2 at "
            "the others) and by ONNX Runtime (npm onnxruntime-node, graph optimizations off) "
            "on one seeded input of batch 2. Passing means |ondine - ORT| <= atol + rtol "
            "|ORT| elementwise; 'of tolerance' is the largest |diff| / (atol + rtol |ORT|).", "",
            "| model | opset | IRs | atol | status | max abs diff | of tolerance at -O0 | "
            "at -O2 | largest \\|ref\\| | s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for f in reports:
        r = json.load(open(os.path.join(d, f)))
        for opset in sorted({x["opset"] for x in r["records"]}):
            recs = [x for x in r["records"] if x["opset"] == opset]
            bad = [x for x in recs if x["status"] != "pass"]
            status = "PASS" if not bad else "; ".join(
                f"{x['status'].upper()} IR {x['ir']}: {x['reason']}" for x in bad).replace(
                    "|", "\\|")

            def top(key, level=None):
                v = [x[key] for x in recs if key in x and level in (None, x["level"])]
                return num(max(v)) if v else "-"
            irs = sorted({x["ir"] for x in recs})
            out.append(f"| {r['model']} | {opset} | {','.join(map(str, irs))} | "
                       f"{num(r['atol'])} | {status} | "
                       f"{top('max_abs')} | {top('ratio', 0)} | {top('ratio', 2)} | "
                       f"{top('max_ref')} | {sum({x['ir']: x['seconds'] for x in recs}.values()):.0f} |")
    out.append(f"\nrtol {r['rtol']:g}; atol as tools/conformance.py gives it (1e-4 but for "
               "the models of its ATOL_MODELS).\n")


def models_section(title, r, out, full):
    t = r["totals"]
    out.append(f"### {title}\n")
    line = (f"{t['total']} folders tested: {t['passed']} passed, {t['failed']} failed, "
            f"{t['errors']} errors")
    if full:
        line += (f" (the sweep has {len(sweep_list())} torchvision folders plus "
                 "caffe2_resnet50_op9)")
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
    if full:
        not_run(r, out)


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
           "BN kept and folded, opset 13; MobileNetV3-small, ShuffleNetV2, MnasNet and LRASPP, "
           "opset 17, BN kept) and leaves their reports in build/conformance.", ""]
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
                "standard deviation 1). rtol 1e-3 and a fixed atol (tools/conformance.py: "
                "1e-4, larger for two models whose float32 error, measured against float64, "
                "needs it; the atol column says which). "
                "Errors are the largest over outputs and batches.", ""]
        if models:
            models_section("The sweep", models, out, True)
        if subset:
            models_section("The make check subset", subset, out, False)
    restamp_section(args.reports, out)
    runs = load(args.reports, "runs.json")
    if runs:
        runs_section(runs, out)
    text = "\n".join(out).rstrip() + "\n"
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
