"""ondine.InferenceSession against independent references: torch's ResNet-18 outputs (the
exported test_data_set .pb files), the model file as the onnx package reads it, numpy, and the
status numbers of include/ondine.h. Also every error path, runs from several Python threads,
the GIL released during runs, and inputs that are not C-contiguous or not native byte order."""
import errno
import os
import threading
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import ondine


def load_pb(path):
    return numpy_helper.to_array(onnx.load_tensor(path))


def data_set(model_dir, k):
    d = os.path.join(model_dir, f"test_data_set_{k}")
    return load_pb(os.path.join(d, "input_0.pb")), load_pb(os.path.join(d, "output_0.pb"))


@pytest.fixture(scope="module")
def model(resnet18):
    return os.path.join(resnet18, "model.onnx")


@pytest.fixture(scope="module")
def session(model):
    return ondine.InferenceSession(model, threads=2)


def expected_args(values, initializers=()):
    """(name, shape, type) as ONNX Runtime reports them, from the onnx package's reading of
    the file: dim_value, else dim_param, else None; "tensor(<lowercase TensorProto name>)"."""
    out = []
    for v in values:
        if v.name in initializers:
            continue
        t = v.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else d.dim_param or None
                 for d in t.shape.dim]
        out.append((v.name, shape, f"tensor({TensorProto.DataType.Name(t.elem_type).lower()})"))
    return out


def described(args):
    return [(a.name, a.shape, a.type) for a in args]


@pytest.mark.parametrize("k", [0, 1])
def test_resnet18_matches_torch(session, resnet18, k):
    x, want = data_set(resnet18, k)
    got, = session.run(None, {"input": x})
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_tuned_resnet18_matches_torch_and_its_cache(resnet18, tmp_path):
    """tune=PATH times the convolutions into a cache; a second session plans from the file
    alone (same kernels: bitwise the same logits); both within the fp32 tolerance of torch."""
    cache = tmp_path / "tune.txt"
    x, want = data_set(resnet18, 0)
    model = os.path.join(resnet18, "model.onnx")
    got, = ondine.InferenceSession(model, threads=2, tune=cache).run(None, {"input": x})
    assert cache.read_text().startswith("ondine-tune-cache 1\n")
    again, = ondine.InferenceSession(model, threads=2, tune=cache).run(None, {"input": x})
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
    assert np.array_equal(got, again)


def test_corrupt_tune_cache_is_refused(resnet18, status, tmp_path):
    cache = tmp_path / "tune.txt"
    cache.write_bytes(b"ondine-tune-cache 1\nC\tkey\tnhwc direct impl NaN\n")
    msg = raised(lambda: ondine.InferenceSession(os.path.join(resnet18, "model.onnx"),
                                                 tune=cache),
                 ondine.InvalidArgument, "OND_STATUS_INVALID_ARGUMENT", status)
    assert "tuning cache" in msg and "line 2" in msg


def test_version_is_the_headers():
    h = open(os.path.join(os.path.dirname(__file__), "..", "..", "include", "ondine.h")).read()
    parts = [h.split(f"#define OND_VERSION_{p} ")[1].split()[0]
             for p in ("MAJOR", "MINOR", "PATCH")]
    assert ondine.__version__ == ".".join(parts)


def test_inputs_and_outputs_as_onnx_runtime_reports_them(session, model):
    m = onnx.load(model, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    assert described(session.get_inputs()) == expected_args(m.graph.input, inits)
    assert described(session.get_outputs()) == expected_args(m.graph.output)
    assert described(session.get_inputs()) == [("input", ["N", 3, 224, 224], "tensor(float)")]


def two_in_two_out():
    """x[?,3] + y[1,3] -> s, relu(s) -> r; outputs r then s. x's first dim has no name."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "y"], ["s"]), helper.make_node("Relu", ["s"], ["r"])],
        "two", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3]),
                helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, [None, 3]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, [None, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_several_inputs_outputs_and_output_names():
    m = two_in_two_out()
    sess = ondine.InferenceSession(m.SerializeToString())
    assert described(sess.get_inputs()) == expected_args(m.graph.input)
    assert described(sess.get_outputs()) == expected_args(m.graph.output)
    assert sess.get_inputs()[0].shape == [None, 3]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.standard_normal((1, 3)).astype(np.float32)
    r, s = sess.run(None, {"y": y, "x": x})
    np.testing.assert_array_equal(s, x + y)
    np.testing.assert_array_equal(r, np.maximum(x + y, 0))
    s2, r2 = sess.run(["s", "r"], {"x": x, "y": y})
    np.testing.assert_array_equal(s2, s)
    np.testing.assert_array_equal(r2, r)
    only, = sess.run(["s"], {"x": x, "y": y})
    np.testing.assert_array_equal(only, s)
    assert len(sess.run([], {"x": x, "y": y})) == 2


def test_bytes_and_path_load_the_same_model(session, model, resnet18):
    with open(model, "rb") as f:
        from_bytes = ondine.InferenceSession(f.read(), threads=2)
    assert described(from_bytes.get_inputs()) == described(session.get_inputs())
    assert described(from_bytes.get_outputs()) == described(session.get_outputs())
    x, _ = data_set(resnet18, 0)
    np.testing.assert_array_equal(from_bytes.run(None, {"input": x})[0],
                                  session.run(None, {"input": x})[0])


def test_non_contiguous_and_byte_swapped_inputs(session, resnet18):
    x, _ = data_set(resnet18, 1)
    want, = session.run(None, {"input": x})
    # The same values behind strides: NHWC storage seen as NCHW, and every other row of a
    # taller array.
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    tall = np.zeros((4, 3, 448, 224), np.float32)
    tall[:, :, ::2] = x
    strided = tall[:, :, ::2]
    swapped = x.astype(">f4")
    for view in (nhwc, strided, swapped):
        assert not view.flags.c_contiguous or view.dtype.byteorder == ">"
        before = view.copy()
        got, = session.run(None, {"input": view})
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(view, before)


def test_threads_on_one_session_give_single_thread_results(session, resnet18):
    x, _ = data_set(resnet18, 0)
    rng = np.random.default_rng(2)
    inputs = [x] + [x + rng.standard_normal(x.shape).astype(np.float32) * 0.1 for _ in range(3)]
    want = [session.run(None, {"input": i})[0] for i in inputs]
    got, failures = {}, []

    def worker(t):
        try:
            for r in range(3):
                k = (t + r) % len(inputs)
                got[(t, r)] = (k, session.run(None, {"input": inputs[k]})[0])
        except Exception as e:  # reported below: an exception in a thread would be lost
            failures.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert len(got) == 12
    for k, out in got.values():
        assert np.array_equal(out, want[k]), f"input {k} differs when run from threads"


def test_gil_is_released_during_run(session, resnet18):
    """While one thread is inside a run (C), this thread keeps running Python. With the GIL
    held for the call, this thread would stall for the whole run."""
    x, _ = data_set(resnet18, 1)
    session.run(None, {"input": x})  # plans for this shape first, so the timed run is steady
    took = []

    def run():
        t0 = time.perf_counter()
        session.run(None, {"input": x})
        took.append(time.perf_counter() - t0)

    t = threading.Thread(target=run)
    last = time.perf_counter()
    longest = 0.0
    t.start()
    while t.is_alive():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    t.join()
    assert took[0] > 0.05, "the run is too short to tell"
    assert longest < 0.5 * took[0], (longest, took[0])


# Error paths: the exception class, its status (include/ondine.h's numbers) and its message.

@pytest.mark.parametrize("k", [0, 1])
def test_resnet18_bf16_agrees_with_torch(model, resnet18, k):
    """bf16 on this machine's AVX512-BF16; tolerance and top-1 as docs/precision.md."""
    x, want = data_set(resnet18, k)
    got, = ondine.InferenceSession(model, threads=2, precision="bf16").run(None, {"input": x})
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=5e-2)
    assert (got.argmax(axis=1) == want.argmax(axis=1)).all()


def test_resnet18_int8_agrees_with_torch(model, resnet18):
    """int8 calibrated on seeded inputs other than the two data sets it is judged on (the same
    distribution): logits within 9.5% of their largest magnitude (measured 3.2%: 0.11 of 3.4)
    and a cosine similarity to torch's of at least 0.9987 (measured 0.99956)."""
    rng = np.random.default_rng(1)
    calibration = [{"input": rng.standard_normal((2, 3, 224, 224)).astype(np.float32)}
                   for _ in range(4)]
    s = ondine.InferenceSession(model, threads=2, precision="int8", calibration=calibration)
    for x, want in (data_set(resnet18, k) for k in (0, 1)):
        got, = s.run(None, {"input": x})
        assert got.dtype == np.float32 and got.shape == want.shape
        assert np.abs(got - want).max() <= 0.095 * np.abs(want).max()
        g, w = got.ravel().astype(np.float64), want.ravel().astype(np.float64)
        assert g @ w / np.sqrt((g @ g) * (w @ w)) >= 0.9987


def test_int8_calibration_arguments(model, status):
    x = np.zeros((1, 3, 224, 224), np.float32)
    msg = raised(lambda: ondine.InferenceSession(model, precision="int8",
                                                 calibration={"input": x}),
                 ondine.InvalidArgument, "OND_STATUS_INVALID_ARGUMENT", status)
    assert msg == "calibration takes a list of input feeds ({input name: array}), got a dict"
    msg = raised(lambda: ondine.InferenceSession(model, precision="int8",
                                                 calibration=[{"input": x[:, :1]}]),
                 ondine.InvalidInput, "OND_STATUS_INVALID_INPUT", status)
    assert msg.startswith("calibration input set 0: "), msg


def raised(fn, cls, status_name, status):
    with pytest.raises(cls) as e:
        fn()
    assert isinstance(e.value, ondine.OndineError)
    assert e.value.status == status[status_name]
    assert str(e.value) == e.value.message
    return e.value.message


def test_bad_path(status, tmp_path):
    path = str(tmp_path / "missing.onnx")
    msg = raised(lambda: ondine.InferenceSession(path), ondine.IOFailure, "OND_STATUS_IO", status)
    assert path in msg and os.strerror(errno.ENOENT) in msg


def test_bad_bytes(status):
    msg = raised(lambda: ondine.InferenceSession(b"\x08\x07garbage"), ondine.InvalidModel,
                 "OND_STATUS_INVALID_MODEL", status)
    assert "not a valid ONNX model" in msg


def test_wrong_dtype_rank_and_fixed_dim(session, status, resnet18):
    x, _ = data_set(resnet18, 0)
    cases = [(x.astype(np.float64), "double[1,3,224,224]"),
             (x.astype(np.int64), "int64[1,3,224,224]"),
             (x[0], "float[3,224,224]"),
             (x[None], "float[1,1,3,224,224]"),
             (x[:, :2], "float[1,2,224,224]"),
             (np.zeros((1, 3, 224, 200), np.float32), "float[1,3,224,200]")]
    for bad, got in cases:
        msg = raised(lambda: session.run(None, {"input": bad}), ondine.InvalidInput,
                     "OND_STATUS_INVALID_INPUT", status)
        assert msg == f"input 'input': expected float[N,3,224,224], got {got}"


def test_inputs_numpy_cannot_pass(session, status):
    msg = raised(lambda: session.run(None, {"input": np.zeros((1, 3, 224, 224), np.complex64)}),
                 ondine.InvalidInput, "OND_STATUS_INVALID_INPUT", status)
    assert "complex64" in msg and "tensor(float)" in msg
    msg = raised(lambda: session.run(None, {"input": [[0.0]]}), ondine.InvalidInput,
                 "OND_STATUS_INVALID_INPUT", status)
    assert "numpy.ndarray" in msg and "list" in msg
    msg = raised(lambda: session.run(None, {"input": np.zeros((1,) * 13, np.float32)}),
                 ondine.InvalidInput, "OND_STATUS_INVALID_INPUT", status)
    assert "rank 13" in msg


def test_unknown_and_missing_inputs(session, status, resnet18):
    x, _ = data_set(resnet18, 0)
    msg = raised(lambda: session.run(None, {"input": x, "extra": x}), ondine.InvalidInput,
                 "OND_STATUS_INVALID_INPUT", status)
    assert msg == "'extra' is not an input of the model (inputs: input)"
    msg = raised(lambda: session.run(None, {}), ondine.InvalidInput,
                 "OND_STATUS_INVALID_INPUT", status)
    assert msg == "input 'input' is missing (inputs: input)"
    sess = ondine.InferenceSession(two_in_two_out().SerializeToString())
    msg = raised(lambda: sess.run(None, {"x": np.zeros((2, 3), np.float32)}), ondine.InvalidInput,
                 "OND_STATUS_INVALID_INPUT", status)
    assert msg == "input 'y' is missing (inputs: x, y)"


def test_unknown_output_name(session, status, resnet18):
    x, _ = data_set(resnet18, 0)
    msg = raised(lambda: session.run(["output", "probs"], {"input": x}), ondine.InvalidArgument,
                 "OND_STATUS_INVALID_ARGUMENT", status)
    assert msg == "'probs' is not an output of the model (outputs: output)"


@pytest.mark.parametrize("kwargs,words", [
    ({"threads": -1}, "threads"), ({"threads": 1.5}, "threads"),
    ({"optimization_level": 3}, "optimization_level"), ({"precision": "fp64"}, "precision"),
    ({"disabled_passes": "fuse"}, "disabled_passes"),
    ({"disabled_passes": [1]}, "disabled_passes"), ({"tune": 1.5}, "tune")])
def test_bad_options(model, status, kwargs, words):
    msg = raised(lambda: ondine.InferenceSession(model, **kwargs), ondine.InvalidArgument,
                 "OND_STATUS_INVALID_ARGUMENT", status)
    assert words in msg


def test_bad_source_type(status):
    msg = raised(lambda: ondine.InferenceSession(42), ondine.InvalidArgument,
                 "OND_STATUS_INVALID_ARGUMENT", status)
    assert "int" in msg


def test_every_status_has_its_class_and_name(status):
    classes = [ondine.InvalidArgument, ondine.InvalidModel, ondine.Unsupported,
               ondine.InvalidInput, ondine.LimitExceeded, ondine.IOFailure, ondine.OutOfMemory,
               ondine.BackendError]
    assert sorted(c.status for c in classes) == sorted(v for v in status.values() if v)
    names = [c("x").status_name for c in classes]
    assert len(set(names)) == len(names) and "unknown status" not in names
    from ondine._lib import lib
    assert names == [lib.ond_status_name(c.status).decode() for c in classes]
    assert ondine.CommandFailed("x", 1).status is None
