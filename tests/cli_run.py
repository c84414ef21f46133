#!/usr/bin/python3
"""`ondine run` end to end: a small Conv -> Relu -> Flatten -> Gemm model built with onnx.helper,
inputs from .pb and .npy files (NAME=FILE or a bare FILE), outputs compared with numpy and
written as .pb or .npy, --print; random inputs; error exits; `ondine bench` on an input file
and for a duration; `inspect --after` refusing a pass that does not run.
Usage: cli_run.py ONDINE_BINARY WORK_DIR"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

ondine, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(0)
w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
b = rng.standard_normal(4).astype(np.float32)
g = rng.standard_normal((5, 4 * 4 * 4)).astype(np.float32)
graph = helper.make_graph(
    [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
     helper.make_node("Relu", ["c"], ["r"]),
     helper.make_node("Flatten", ["r"], ["f"]),
     helper.make_node("Gemm", ["f", "g"], ["y"], transB=1)],
    "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
    [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
     numpy_helper.from_array(g, "g")])
model = os.path.join(work, "small.onnx")
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), model)

x = rng.standard_normal((3, 2, 4, 4)).astype(np.float32)
xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
conv = np.zeros((3, 4, 4, 4), np.float32)
for i in range(4):
    for j in range(4):
        conv[:, :, i, j] = np.einsum("nchw,ochw->no", xp[:, :, i:i + 3, j:j + 3], w) + b
want = np.maximum(conv, 0).reshape(3, -1) @ g.T

def run(*args, expect=0):
    p = subprocess.run([ondine, "run", model, *args], capture_output=True, text=True)
    assert p.returncode == expect, (args, p.returncode, p.stdout, p.stderr)
    return p

def check(outdir):
    got = numpy_helper.to_array(onnx.load_tensor(os.path.join(outdir, "output_0.pb")))
    assert got.shape == (3, 5), got.shape
    assert np.allclose(got, want, rtol=1e-4, atol=1e-4), np.abs(got - want).max()

with open(os.path.join(work, "x.pb"), "wb") as f:
    f.write(numpy_helper.from_array(x, "x").SerializeToString())
np.save(os.path.join(work, "x.npy"), x)
out = run("--input", f"x={work}/x.pb", "--output-dir", f"{work}/out_pb", "--threads", "1")
assert "y: float[3,5]" in out.stdout and "row 2 top-5:" in out.stdout, out.stdout
check(f"{work}/out_pb")
run("--input", f"x={work}/x.npy", "--output-dir", f"{work}/out_npy", "-O0")
check(f"{work}/out_npy")
out = run("--batch", "2", "--seed", "7")
assert "y: float[2,5]" in out.stdout, out.stdout
assert run("--batch", "2", "--seed", "7").stdout == out.stdout, "seeded inputs differ"
err = run("--input", "z=nothing.pb", expect=1).stderr
assert err.count("\n") == 1 and "nothing.pb" in err, err
err = run("--input", f"q={work}/x.pb", expect=1).stderr
assert "names no input" in err, err
assert "unknown option" in run("--frobnicate", expect=2).stderr
bad = np.zeros((1, 3, 4, 4), np.float32)
np.save(os.path.join(work, "bad.npy"), bad)
err = run("--input", f"x={work}/bad.npy", expect=1).stderr
assert "input 'x': expected float[N,2,4,4], got float[1,3,4,4]" in err, err
out = run("--input", f"x={work}/x.pb", "--profile", f"{work}/trace.json", "-O0")
trace = json.load(open(f"{work}/trace.json"))["traceEvents"]
ops = [e["cat"] for e in trace]
assert ops.count("Conv") == 1 and ops.count("Gemm") == 1 and ops.count("Relu") == 1, ops
conv = next(e for e in trace if e["cat"] == "Conv")
assert ":" in conv["args"]["impl"] and conv["args"]["dst"].startswith("f32 "), conv
assert all(e["dur"] >= 0 for e in trace) and "profile:" in out.stdout, out.stdout

# A bare FILE for this one-input model; outputs as .npy; --print stats and values.
out = run("--input", f"{work}/x.npy", "--output-dir", f"{work}/out_npy2", "--output-format", "npy",
          "--print", "stats")
got = np.load(f"{work}/out_npy2/output_0.npy")
assert got.shape == (3, 5) and np.allclose(got, want, rtol=1e-4, atol=1e-4), got
stats = next(l for l in out.stdout.splitlines() if l.startswith("  min "))
lo, hi = float(stats.split()[1]), float(stats.split()[3])
assert abs(lo - got.min()) <= 1e-5 * abs(got.min()) + 1e-6 and abs(hi - got.max()) <= 1e-5 * abs(got.max()) + 1e-6, stats
out = run("--input", f"{work}/x.pb", "--print", "values")
printed = [float(v) for l in out.stdout.splitlines() if l.startswith("  ") and "top-" not in l
           for v in l.split()]
assert np.allclose(np.array(printed).reshape(3, 5), want, rtol=1e-4, atol=1e-4), printed
# Repeated inputs, bad --output-format / --print, an .npy dtype ondine does not read.
err = run("--input", f"x={work}/x.pb", "--input", f"{work}/x.npy", expect=1).stderr
assert "input 'x' is given twice" in err, err
assert "--output-format takes pb or npy" in run("--output-format", "csv", expect=2).stderr
assert "--print takes stats or values" in run("--print", "all", expect=2).stderr
np.save(os.path.join(work, "x16.npy"), x.astype(np.float16))
err = run("--input", f"{work}/x16.npy", expect=1).stderr
assert "unsupported .npy dtype '<f2'" in err, err

# bench: an input file and --duration (at least one timed run; all within about the duration).
def bench(*args, expect=0):
    p = subprocess.run([ondine, "bench", model, *args], capture_output=True, text=True)
    assert p.returncode == expect, (args, p.returncode, p.stdout, p.stderr)
    return p
r = json.loads(bench("--input", f"{work}/x.npy", "--duration", "0.3", "--json",
                                   "--threads", "1").stdout)
assert r["batch"] == 1 and r["iters"] >= 1 and r["iters"] * r["min_ms"] <= 300 + r["p99_ms"], r
assert "input 'x': expected float[N,2,4,4]" in bench("--input", f"{work}/bad.npy", expect=1).stderr
assert "--duration takes seconds" in bench("--duration", "0", expect=2).stderr
# --concurrency: 2 threads of 3 runs each on one session; --profile writes a trace.
r = json.loads(bench("--iters", "3", "--concurrency", "2", "--threads", "1",
                                   "--profile", f"{work}/bench.json", "--json").stdout)
assert r["concurrency"] == 2 and r["iters"] == 6 and r["throughput_ips"] > 0, r
assert json.load(open(f"{work}/bench.json"))["traceEvents"], "empty bench trace"
assert "--concurrency takes" in bench("--concurrency", "0", expect=2).stderr

# quantize refuses a model that is quantized already (its scales are kept), writing nothing.
qdq = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "resnet20_fashion_qdq",
                   "model.onnx")
p = subprocess.run([ondine, "quantize", qdq, "-o", f"{work}/qq.onnx"], capture_output=True,
                   text=True)
assert p.returncode == 1 and "keeps the model's scales" in p.stderr, p.stderr
assert not os.path.exists(f"{work}/qq.onnx")

# inspect --after refuses a pass that does not run at the chosen level, or is disabled.
p = subprocess.run([ondine, "inspect", model, "-O1", "--after", "fuse_activation", "--dot",
                    f"{work}/g.dot"], capture_output=True, text=True)
assert p.returncode == 2 and "runs from -O2 on, not at -O1" in p.stderr, p.stderr
p = subprocess.run([ondine, "inspect", model, "--disable-pass", "fuse_activation", "--after",
                    "fuse_activation", "--dot", f"{work}/g.dot"], capture_output=True, text=True)
assert p.returncode == 2 and "is disabled" in p.stderr, p.stderr
print("ondine run: ok")
