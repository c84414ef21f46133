"""`ondine quantize` and QDQ models, on the Fashion-MNIST ResNet-20 (trained weights, real
images): the written model is valid ONNX in QDQ form, ondine runs it in int8 with the scales
it states (the same numbers as an int8 session calibrated on the same images), its int8
kernels agree with its own QuantizeLinear/DequantizeLinear ops run as plain C at -O0, and its
accuracy stays within 0.6 point of fp32. Calibration images are training images, never the
test images judged; each bound is at most about 3x what was measured (noted beside it)."""
import gzip
import os
import subprocess

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper, TensorProto

import ondine

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CLI = os.path.join(os.environ["ONDINE_BUILD_DIR"], "bin", "ondine")
MODEL = os.path.join(ROOT, "examples", "models", "resnet20_fashion.onnx")
DATA = "/usr/share/datasets/fashion-mnist"


def idx(name, header):
    return np.frombuffer(gzip.open(os.path.join(DATA, name)).read()[header:], np.uint8)


def images(name, n):
    return (idx(name, 16)[:n * 784].reshape(n, 1, 28, 28) / 255).astype(np.float32)


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    """Four sets of 100 training images (never test images), as .npy files."""
    d = tmp_path_factory.mktemp("calibration")
    x = images("train-images-idx3-ubyte.gz", 400)
    for k in range(4):
        np.save(d / f"set{k}.npy", x[k * 100:(k + 1) * 100])
    return d, [{"input": x[k * 100:(k + 1) * 100]} for k in range(4)]


@pytest.fixture(scope="module")
def quantized(calibration, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("q") / "resnet20_qdq.onnx")
    p = subprocess.run([CLI, "quantize", MODEL, "--calibrate", str(calibration[0]), "-o", out,
                        "--threads", "2"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(f"calibrated on {calibration[0]}, written to {out}\n"), p.stdout
    assert p.stderr == ""
    return out


@pytest.fixture(scope="module")
def test_images():
    return images("t10k-images-idx3-ubyte.gz", 1000), idx("t10k-labels-idx1-ubyte.gz", 8)[:1000]


def test_qdq_form(quantized):
    m = onnx.load(quantized)
    onnx.checker.check_model(m)
    nodes = list(m.graph.node)
    made = {o: n for n in nodes for o in n.output}
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    convs = [n for n in nodes if n.op_type == "Conv"]
    assert len(convs) == 19
    for c in convs:
        x, w = made[c.input[0]], made[c.input[1]]
        assert x.op_type == "DequantizeLinear" and w.op_type == "DequantizeLinear"
        q, scale, zp = (inits[name] for name in w.input)
        assert q.dtype == np.int8 and scale.shape == (q.shape[0],) and not zp.any()
        assert [a.i for a in w.attribute if a.name == "axis"] == [0]
        # Per output channel, the largest weight maps to 127.
        assert (np.abs(q.reshape(q.shape[0], -1)).max(axis=1) == 127).all()
        qa = made[x.input[0]]
        assert qa.op_type == "QuantizeLinear" and not inits[qa.input[2]].any()
    # The convs' inputs, and the global pool's output, which the classifier (an int8 inner
    # product at -O2) reads. Not the pool's input: an averaging pool takes float in int8
    # sessions (its means get their own scale, ops/pool.c).
    assert sum(n.op_type == "QuantizeLinear" for n in nodes) == 20
    gap = next(n for n in nodes if n.op_type == "GlobalAveragePool")
    assert made[gap.input[0]].op_type == "Relu"
    assert [n.op_type for n in nodes if gap.output[0] in n.input] == ["QuantizeLinear"]


def test_qdq_runs_as_the_calibrated_session(quantized, calibration, test_images):
    x = test_images[0][:200]
    qdq = ondine.InferenceSession(quantized, threads=2, precision="int8")
    ptq = ondine.InferenceSession(MODEL, threads=2, precision="int8", calibration=calibration[1])
    got, = qdq.run(None, {"input": x})
    want, = ptq.run(None, {"input": x})
    # Measured: equal (the same scales and int8 weights).
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_int8_kernels_match_the_qdq_ops(quantized, test_images):
    """-O0 keeps the Quantize/Dequantize pairs and runs them as ops in f32 (fake quantization):
    the int8 session computes the same rounding with oneDNN's int8 convolutions."""
    x = test_images[0][:200]
    fake, = ondine.InferenceSession(quantized, threads=2, optimization_level=0).run(
        None, {"input": x})
    got, = ondine.InferenceSession(quantized, threads=2, precision="int8").run(None, {"input": x})
    # Measured: 0.93% of the scale, every top-1 the same.
    assert np.abs(got - fake).max() <= 0.028 * np.abs(fake).max()
    assert (got.argmax(axis=1) == fake.argmax(axis=1)).mean() >= 0.99


def test_accuracy_within_0_6_point_of_fp32(quantized, test_images):
    x, labels = test_images
    fp32, = ondine.InferenceSession(MODEL, threads=2).run(None, {"input": x})
    int8, = ondine.InferenceSession(quantized, threads=2, precision="int8").run(None, {"input": x})
    a32, a8 = (fp32.argmax(1) == labels).mean(), (int8.argmax(1) == labels).mean()
    # Measured: 93.6% and 93.4% on these 1000 images.
    assert abs(a32 - a8) <= 0.006, (a32, a8)


def test_old_opset_is_refused(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])
    w = numpy_helper.from_array(np.ones((2, 2, 1, 1), np.float32), "w")
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g", [x], [y], [w])
    path = str(tmp_path / "old.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)]), path)
    p = subprocess.run([CLI, "quantize", path, "-o", str(tmp_path / "q.onnx")],
                       capture_output=True, text=True)
    assert p.returncode == 1
    assert "imports opset 11: per-channel weights in QDQ form need opset 13" in p.stderr
    assert not (tmp_path / "q.onnx").exists()


def test_usage_errors():
    for args in ([MODEL], ["-o", "x.onnx"], [MODEL, "-o"], [MODEL, "--bogus", "-o", "x.onnx"]):
        p = subprocess.run([CLI, "quantize"] + args, capture_output=True, text=True)
        assert p.returncode == 2 and p.stderr.startswith("ondine quantize: "), p.stderr
