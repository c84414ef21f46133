#!/usr/bin/python3
"""Checks `ondine test` on backend test folders built here with onnx.helper, whose reference
outputs numpy computes: PASS, FAIL naming the worst element, NaN and integer rules, shape and
dtype checks, tolerances, unsupported models skipped by op (apart from a claimed op refusing a
mode), skip lists, --filter, --json, --compare-levels, --bisect against per-tensor files
(hand-made and from tools/models/dump_intermediates.py) and its verdict, --precision errors,
failures that name their cause (multi-dimensional index, count out of tolerance, a swapped
output), outputs bound by the files' tensor names, .npy data, --metric, --quiet, runs that
compare nothing, and exit statuses.
Usage: test_cli_test.py ONDINE_BINARY WORK_DIR"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

ondine, work = sys.argv[1:3]
root = os.path.join(work, "cli_test")
shutil.rmtree(root, ignore_errors=True)
rng = np.random.default_rng(0)


def save(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def case(parent, name, nodes, inputs, outputs, sets, inits=(), out_names=None, npy=False):
    """A test folder: inputs/outputs are (name, elem_type, shape); sets is a list of
    (input arrays, expected output arrays); out_names names the output files' tensors
    (default: the graph's outputs); npy writes .npy files instead of .pb."""
    d = os.path.join(root, parent, name)
    os.makedirs(d)
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info(*i) for i in inputs],
        [helper.make_tensor_value_info(*o) for o in outputs], list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))
    for k, (ins, outs) in enumerate(sets):
        sd = os.path.join(d, f"test_data_set_{k}")
        os.makedirs(sd)
        for i, a in enumerate(ins):
            if npy:
                np.save(os.path.join(sd, f"input_{i}.npy"), a)
            else:
                save(os.path.join(sd, f"input_{i}.pb"), a, inputs[i][0])
        for i, a in enumerate(outs):
            if npy:
                np.save(os.path.join(sd, f"output_{i}.npy"), a)
            else:
                save(os.path.join(sd, f"output_{i}.pb"), a, (out_names or
                                                            [o[0] for o in outputs])[i])
    return d


def run(*args, want_rc=None):
    p = subprocess.run([ondine, "test", *args], capture_output=True, text=True)
    if want_rc is not None and p.returncode != want_rc:
        sys.exit(f"ondine test {' '.join(args)}: exit {p.returncode}, expected {want_rc}\n"
                 f"{p.stdout}{p.stderr}")
    return p


def lines(p):
    return {l.split()[1].rstrip(":"): l for l in p.stdout.splitlines()
            if l.split()[0] in ("PASS", "FAIL", "ERROR", "SKIP")}


F = TensorProto.FLOAT
relu = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
x = rng.standard_normal((2, 3)).astype(np.float32)
y = np.maximum(x, 0)

# A passing case, one with element 4 off in its second data set, and tolerance at the edge.
case("a", "relu_pass", relu, [("x", F, [2, 3])], [("y", F, [2, 3])], [([x], [y])])
bad = y.copy()
bad.flat[4] += 0.5
x2 = rng.standard_normal((2, 3)).astype(np.float32)
case("a", "relu_fail", relu, [("x", F, [2, 3])], [("y", F, [2, 3])],
     [([x2], [np.maximum(x2, 0)]), ([x], [bad])])
xt = np.linspace(1, 2, 6, dtype=np.float32).reshape(2, 3)
case("a", "relu_tol", relu, [("x", F, [2, 3])], [("y", F, [2, 3])],
     [([xt], [xt * np.float32(1 + 5e-4)])])
# Shape and dtype mismatches.
case("a", "relu_shape", relu, [("x", F, [2, 3])], [("y", F, [2, 3])],
     [([x], [y.reshape(3, 2)])])
case("a", "relu_dtype", relu, [("x", F, [2, 3])], [("y", F, [2, 3])],
     [([x], [y.astype(np.float64)])])
# NaN matches only NaN.
ident = [helper.make_node("Identity", ["x"], ["y"], name="id")]
xn = np.array([1, np.nan, 3], dtype=np.float32)
case("b", "nan_match", ident, [("x", F, [3])], [("y", F, [3])], [([xn], [xn])])
case("b", "nan_mismatch", ident, [("x", F, [3])], [("y", F, [3])],
     [([xn], [np.array([1, 0, 3], dtype=np.float32)])])
# Integers are exact: 1000001 vs 1000000 is within rtol * |ref| but must fail.
xi = np.array([5, 1000001], dtype=np.int64)
case("b", "int_exact", ident, [("x", TensorProto.INT64, [2])], [("y", TensorProto.INT64, [2])],
     [([xi], [np.array([5, 1000000], dtype=np.int64)])])
# An op ondine does not claim.
case("b", "sinh_unsupported", [helper.make_node("Sinh", ["x"], ["y"])], [("x", F, [3])],
     [("y", F, [3])], [([xn], [np.sinh(xn)])])
# A chain for --bisect: a = relu(x), b = a + c, y = b * k.
c = np.array([1, 2, 3], dtype=np.float32)
k = np.array([2, 2, 2], dtype=np.float32)
chain = [helper.make_node("Relu", ["x"], ["a"], name="n_relu"),
         helper.make_node("Add", ["a", "c"], ["b"], name="n_add"),
         helper.make_node("Mul", ["b", "k"], ["y"], name="n_mul")]
xc = np.array([-1, 0.5, 2], dtype=np.float32)
a = np.maximum(xc, 0)
b = a + c
yc = b * k
chain_dir = case("c", "chain_fail", chain, [("x", F, [3])], [("y", F, [3])],
                 [([xc], [yc + np.float32(1)])],
                 inits=[numpy_helper.from_array(c, "c"), numpy_helper.from_array(k, "k")])
refs = os.path.join(root, "refs")
os.makedirs(refs)
save(os.path.join(refs, "a.pb"), a, "a")
save(os.path.join(refs, "b.pb"), b + np.float32([0, 0.25, 0]), "b")
save(os.path.join(refs, "y.pb"), yc, "y")

# Everything: per-case lines, the worst element, totals and the exit status.
report = os.path.join(root, "report.json")
p = run(root, "--json", report, want_rc=1)
got = lines(p)
want = {"relu_pass": "PASS", "relu_fail": "FAIL", "relu_tol": "PASS", "relu_shape": "FAIL",
        "relu_dtype": "FAIL", "nan_match": "PASS", "nan_mismatch": "FAIL", "int_exact": "FAIL",
        "sinh_unsupported": "SKIP", "chain_fail": "FAIL"}
assert {n: l.split()[0] for n, l in got.items()} == want, p.stdout
assert p.stdout.splitlines()[-1] == "3 passed, 6 failed, 1 skipped (1 op not implemented)", \
    p.stdout
# Element 4 of a [2,3] output is [1,1]; one of the 12 elements of two sets is off.
assert ("1 of 12 elements (8.33%) out of tolerance; worst [1,1] (set 1) is "
        f"{y.flat[4]:.9g}, expected {bad.flat[4]:.9g} (max abs error 0.5") in got["relu_fail"], \
    got["relu_fail"]
assert "shape [2,3], expected [3,2]" in got["relu_shape"], got["relu_shape"]
assert "dtype float, expected double" in got["relu_dtype"], got["relu_dtype"]
assert "worst [1] (set 0) is nan, expected 0" in got["nan_mismatch"], got["nan_mismatch"]
assert "1 of 2 elements (50%) out of tolerance; worst [1] (set 0) is 1000001, expected 1000000" \
    in got["int_exact"], got["int_exact"]
assert "Sinh" in got["sinh_unsupported"], got["sinh_unsupported"]
r = json.load(open(report))
assert r["totals"] == {"passed": 3, "failed": 6, "errors": 0, "skipped": 1, "total": 10,
                       "skipped_not_implemented": 1, "skipped_unsupported_feature": 0,
                       "skipped_skip_list": 0}, r
by = {c["name"]: c for c in r["cases"]}
out = by["relu_fail"]["outputs"][0]
assert (out["elements"], out["out_of_tolerance"]) == (12, 1), out
worst = out["worst"][0]
assert (worst["set"], worst["index"], worst["flat_index"], worst["ok"]) == (1, [1, 1], 4, False), \
    worst
assert abs(worst["got"] - float(y.flat[4])) < 1e-6 and abs(worst["expected"] - bad.flat[4]) < 1e-6
assert abs(by["relu_fail"]["outputs"][0]["max_abs"] - 0.5) < 1e-6, by["relu_fail"]
assert by["relu_pass"]["outputs"][0]["ok"] and by["relu_pass"]["outputs"][0]["max_abs"] == 0
assert by["sinh_unsupported"]["skip_ops"] == ["Sinh"], by["sinh_unsupported"]
assert by["sinh_unsupported"]["skip_kind"] == "not_implemented", by["sinh_unsupported"]
assert by["chain_fail"]["ops"] == ["Relu", "Add", "Mul"], by["chain_fail"]

# Tolerances: 5e-4 relative passes the default rtol 1e-3, not 1e-4.
p = run(os.path.join(root, "a", "relu_tol") + "/", want_rc=0)
assert p.stdout.startswith("PASS relu_tol\n"), p.stdout
p = run(os.path.join(root, "a", "relu_tol"), "--rtol", "1e-4", want_rc=1)
assert p.stdout.splitlines()[-1] == "0 passed, 1 failed", p.stdout

# --filter, skip lists, -O0 against the chosen level.
p = run(root, "--filter", "relu_", want_rc=1)
assert set(lines(p)) == {"relu_pass", "relu_fail", "relu_tol", "relu_shape", "relu_dtype"}
skips = os.path.join(root, "skip.txt")
with open(skips, "w") as f:
    f.write("# comment\nrelu_fail known to differ\nrelu_shape\n")
p = run(os.path.join(root, "a"), "--skip-list", skips, "--filter", "relu_", want_rc=1)
got = lines(p)
assert got["relu_fail"] == "SKIP relu_fail: skip list: known to differ", got
assert got["relu_shape"].startswith("SKIP relu_shape: skip list"), got
assert p.stdout.splitlines()[-1] == "2 passed, 1 failed, 2 skipped (2 skip list)", p.stdout
p = run(os.path.join(root, "a", "relu_pass"), os.path.join(root, "b", "nan_match"),
        "--compare-levels", "--json", report, want_rc=0)
assert p.stdout.splitlines()[-1] == "2 passed, 0 failed", p.stdout
assert all(c["levels"] and c["levels"][0]["ok"] for c in json.load(open(report))["cases"])

# --bisect with per-tensor references: 'b' is off at element 1, so node n_add is named.
p = run(chain_dir, "--bisect", refs, "--json", report, want_rc=1)
bis = [l for l in p.stdout.splitlines() if l.startswith("  bisect: ")]
assert any("first diverges from" in l and "node 'n_add' (Add) output 'b': 1 of 3 elements (33.3%) out of tolerance; worst [1]" in l
           for l in bis), p.stdout
assert any("the -O0 reference interpreter differs from the expected outputs" in l
           for l in bis), p.stdout
assert any("the session's outputs match the -O0 reference interpreter's" in l for l in bis), \
    p.stdout
case_report = json.load(open(report))["cases"][0]
assert case_report["bisect"]["dir_first_node"] == "n_add", case_report
# The reference data is off, not ondine: the verdict says so.
assert case_report["bisect"]["verdict"] == "reference_disagrees", case_report["bisect"]
assert any(l.startswith("  bisect: verdict: the reference interpreter agrees with the session")
           for l in bis), p.stdout

# tools/models/dump_intermediates.py writes torch's per-node outputs: they equal numpy's,
# so -O0 matches them at every tensor.
dumped = os.path.join(root, "dumped")
subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "tools", "models",
                "dump_intermediates.py"), chain_dir, "--out", dumped], check=True,
               stdout=subprocess.DEVNULL)
for name, want in (("a", a), ("b", b), ("y", yc)):
    got = numpy_helper.to_array(onnx.load_tensor(os.path.join(dumped, name + ".pb")))
    assert np.array_equal(got, want), (name, got, want)
p = run(chain_dir, "--bisect=" + dumped, want_rc=1)
assert f"-O0 matches {dumped} at all 3 tensors it holds (0 without a file)" in p.stdout, p.stdout

# bf16 and int8 state their looser default tolerances; int8 without --calibrate warns that
# it calibrated on random inputs, and a calibration folder that does not fit is the case's error.
p = run(os.path.join(root, "a", "relu_pass"), "--precision", "bf16")
assert p.stdout.startswith("bf16: tolerance rtol 0.02, atol 0.05") and "PASS relu_pass" in p.stdout, \
    p.stdout
p = run(os.path.join(root, "a", "relu_pass"), "--precision", "int8")
assert p.stdout.startswith("int8: tolerance rtol 0.05, atol 0.1") and "PASS relu_pass" in p.stdout, \
    p.stdout
assert "warning: int8 calibrated on seeded random inputs" in p.stderr, p.stderr
# Calibration data other than the judged data: another draw of the same distribution.
calib = case("calib", "relu_calib", relu, [("x", F, [2, 3])], [("y", F, [2, 3])],
             [([xk], [np.maximum(xk, 0)]) for xk in
              rng.standard_normal((4, 2, 3)).astype(np.float32)])
p = run(os.path.join(root, "a", "relu_pass"), "--precision", "int8", "--calibrate", calib)
assert "PASS relu_pass" in p.stdout and "warning" not in p.stderr, (p.stdout, p.stderr)
p = run(os.path.join(root, "a", "relu_pass"), "--precision", "int8", "--calibrate", root,
        want_rc=1)
assert "ERROR relu_pass: cannot read the calibration inputs" in p.stdout, p.stdout

# Usage errors exit 2 with one line on stderr; a folder without tests exits 1.
for args in (["--rtol", "x", root], ["--bogus", root], [], ["--precision", "fp64", root]):
    p = run(*args, want_rc=2)
    assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith("ondine test: "), p.stderr
p = run(refs, want_rc=1)
assert "no test folders" in p.stderr, p.stderr
p = run(os.path.join(root, "missing"), want_rc=1)
assert "does not exist" in p.stderr, p.stderr
p = run(os.path.join(root, "a", "relu_pass", "model.onnx"), want_rc=1)
assert "is a file; give the test folder" in p.stderr, p.stderr

# A run that compares nothing fails: a filter that matches no case, every case skipped.
p = run(root, "--filter", "no_such_case", want_rc=1)
assert "compared nothing: --filter matches no case" in p.stderr, p.stderr
p = run(os.path.join(root, "b", "sinh_unsupported"), want_rc=1)
assert "compared nothing: every case was skipped" in p.stderr, p.stderr
run(os.path.join(root, "b", "sinh_unsupported"), "--allow-empty", want_rc=0)
p = run(os.path.join(root, "a", "relu_pass"), "--min-passed", "2", want_rc=1)
assert "1 passed, fewer than --min-passed 2" in p.stderr, p.stderr
run(os.path.join(root, "a", "relu_pass"), "--min-passed", "1", want_rc=0)
# --quiet prints failures and the totals only.
p = run(os.path.join(root, "a"), "--quiet", want_rc=1)
assert [l.split()[0] for l in p.stdout.splitlines()] == ["FAIL", "FAIL", "FAIL", "2"], p.stdout

# A claimed op refusing a mode (training-mode Dropout) is apart from an op not implemented.
Bo = TensorProto.BOOL
case("e", "dropout_training", [helper.make_node("Dropout", ["x", "r", "t"], ["y"])],
     [("x", F, [3]), ("r", F, []), ("t", Bo, [])], [("y", F, [3])],
     [([xn, np.float32(0), np.bool_(True)], [xn])])
p = run(os.path.join(root, "e"), "--json", report, want_rc=1)
assert "(unsupported attribute/type/mode of a claimed op)" in p.stdout, p.stdout
assert p.stdout.splitlines()[-1].endswith(
    "1 skipped (1 unsupported attribute/type/mode of a claimed op)"), p.stdout
r = json.load(open(report))
assert r["cases"][0]["skip_kind"] == "unsupported_feature", r["cases"][0]
assert r["totals"]["skipped_unsupported_feature"] == 1, r["totals"]

# Two outputs, s = x + 1 and d = x - 1.
two = [helper.make_node("Add", ["x", "one"], ["s"], name="n_s"),
       helper.make_node("Sub", ["x", "one"], ["d"], name="n_d")]
one = numpy_helper.from_array(np.ones(3, np.float32), "one")
io2 = ([("x", F, [3])], [("s", F, [3]), ("d", F, [3])])
# Files in the other order, unnamed: position binds, and the report names the swap.
case("f", "swapped", two, *io2, [([c], [c - 1, c + 1])], inits=[one], out_names=["", ""])
# Files in the other order, named after the graph outputs: the names bind, and it passes.
case("f", "named", two, *io2, [([c], [c - 1, c + 1])], inits=[one], out_names=["d", "s"])
# .npy data, element [1] off.
case("f", "npy_off", two, *io2, [([c], [c + 1, c - 1 - np.float32([0, 1e-2, 0])])], inits=[one],
     npy=True)
p = run(os.path.join(root, "f"), "--json", report, want_rc=1)
got = lines(p)
assert got["named"] == "PASS named", p.stdout
assert "its values match test_data_set_0/output_1" in got["swapped"] and \
    "another order than the graph's outputs" in got["swapped"], got["swapped"]
assert "output 'd': 1 of 3 elements (33.3%) out of tolerance; worst [1] (set 0) is 1, " \
    "expected 0.99" in got["npy_off"], got["npy_off"]
by = {c["name"]: c for c in json.load(open(report))["cases"]}
assert by["swapped"]["outputs"][0]["match"].startswith("test_data_set_0/output_1"), by["swapped"]

# data.json (ONNX's model tests) sets the case's tolerance unless --rtol/--atol are given:
# atol 0.02 covers the 0.01 off.
with open(os.path.join(root, "f", "npy_off", "data.json"), "w") as f:
    f.write('{"atol": 0.02, "model_name": "npy_off", "rtol": 0.0}')
p = run(os.path.join(root, "f", "npy_off"), "--json", report, want_rc=0)
case_report = json.load(open(report))["cases"][0]
assert (case_report["rtol"], case_report["atol"], case_report["tolerance_from"]) == \
    (0, 0.02, "data.json"), case_report
p = run(os.path.join(root, "f", "npy_off"), "--atol", "1e-5", want_rc=1)
assert "(rtol 0, atol 1e-05 from data.json)" in p.stdout, p.stdout
os.remove(os.path.join(root, "f", "npy_off", "data.json"))

# --metric: the off-by-1e-2 element fails elementwise but passes cosine 0.999 and top-1.
d = os.path.join(root, "f", "npy_off")
run(d, "--metric", "cosine", want_rc=0)
p = run(d, "--metric", "cosine:0.9999999", want_rc=1)
assert "cosine similarity" in p.stdout and "below 0.9999999" in p.stdout, p.stdout
run(d, "--metric", "topk:1", want_rc=0)
for bad_metric in ("cosine:0", "topk:0", "l2"):
    run(d, "--metric", bad_metric, want_rc=2)
# top-k fails when the largest class moves out of the top K.
case("g", "topk_moved", ident, [("x", F, [2, 3])], [("y", F, [2, 3])],
     [([np.float32([[1, 2, 3], [3, 2, 1]])], [np.float32([[1, 2, 3], [1, 2, 3]])])])
p = run(os.path.join(root, "g"), "--metric", "topk:2", "--json", report, want_rc=1)
r = json.load(open(report))
assert r["options"]["metric"] == "topk:2", r["options"]
assert (r["cases"][0]["outputs"][0]["topk_rows"], r["cases"][0]["outputs"][0]["topk_rows_failing"]) \
    == (2, 1), r["cases"][0]
assert "1 of 2 rows have the reference's top class outside the result's top 2 (first: row 1" \
    in p.stdout, p.stdout
print("ondine test: all checks passed")
