"""ONNX Runtime's Python API on ondine: code written for onnxruntime (ort_client below, which
names the module `ort` and nothing of ondine) runs unchanged with `import ondine as ort`;
SessionOptions' threads and optimization levels, RunOptions, providers refused but the CPU's,
model metadata, the optimized model file, profiling, the int8 calibration warning, and an IR 3
model's initializers that are also inputs, which a run may override. References are numpy's."""
import json
import os
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import ondine

RNG = np.random.default_rng(7)
W = RNG.standard_normal((4, 3)).astype(np.float32)
B = RNG.standard_normal(3).astype(np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """y = relu(x @ W + B), x float[N, 4], with ORT-visible metadata."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]),
         helper.make_node("Add", ["xw", "B"], ["pre"]),
         helper.make_node("Relu", ["pre"], ["y"])],
        "dense_relu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")],
        doc_string="one dense layer")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="test_ort", domain="org.example", model_version=7,
                              doc_string="a model for ORT's API")
    model.ir_version = 8
    helper.set_model_props(model, {"author": "ondine", "license": "MIT"})
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("ort") / "dense.onnx"
    onnx.save(model, str(path))
    return str(path)


def reference(x):
    return np.maximum(x @ W + B, 0)


def ort_client(ort, path, x):
    """Typical onnxruntime code, unchanged: options, providers, describe, run, metadata."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    assert "CPUExecutionProvider" in ort.get_available_providers()
    sess = ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    inp, out = sess.get_inputs()[0], sess.get_outputs()[0]
    assert (inp.name, inp.shape, inp.type) == ("x", ["N", 4], "tensor(float)")
    assert (out.name, out.shape, out.type) == ("y", ["N", 3], "tensor(float)")
    meta = sess.get_modelmeta()
    ro = ort.RunOptions()
    ro.log_severity_level = 3
    ro.log_verbosity_level = 1
    ro.logid = "client"
    ro.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    got, = sess.run([out.name], {inp.name: x}, ro)
    assert sess.run([out.name], {inp.name: x}, run_options=ro)[0].tolist() == got.tolist()
    return got, meta


def test_ort_code_runs_unchanged(model_path):
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    got, meta = ort_client(ondine, model_path, x)
    np.testing.assert_allclose(got, reference(x), rtol=1e-5, atol=1e-6)
    assert (meta.producer_name, meta.graph_name, meta.domain) == \
        ("test_ort", "dense_relu", "org.example")
    assert (meta.description, meta.graph_description, meta.version) == \
        ("a model for ORT's API", "one dense layer", 7)
    assert meta.custom_metadata_map == {"author": "ondine", "license": "MIT"}


def test_positional_arguments_and_bytes(model_path):
    """ORT's positional order: (path_or_bytes, sess_options, providers, provider_options)."""
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    data = open(model_path, "rb").read()
    sess = ondine.InferenceSession(data, ondine.SessionOptions(),
                                   [("CPUExecutionProvider", {})])
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], reference(x), rtol=1e-5, atol=1e-6)
    assert sess.get_provider_options() == {"CPUExecutionProvider": {}}
    assert sess.get_modelmeta().producer_name == "test_ort"


@pytest.mark.parametrize("provider", ["CUDAExecutionProvider", "TensorrtExecutionProvider"])
def test_other_providers_refused(model_path, provider):
    with pytest.raises(ondine.InvalidArgument) as e:
        ondine.InferenceSession(model_path, providers=[provider, "CPUExecutionProvider"])
    assert e.value.message == (f"execution provider '{provider}' is not available: ondine "
                               "runs on the CPU only (available: ['CPUExecutionProvider'])")
    with pytest.raises(ondine.InvalidArgument, match="provider_options has 2 entries"):
        ondine.InferenceSession(model_path, providers=["CPUExecutionProvider"],
                                provider_options=[{}, {}])


@pytest.mark.parametrize("level,want", [
    (ondine.GraphOptimizationLevel.ORT_DISABLE_ALL, 0),
    (ondine.GraphOptimizationLevel.ORT_ENABLE_BASIC, 1),
    (ondine.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, 2),
    (ondine.GraphOptimizationLevel.ORT_ENABLE_ALL, 2)])
def test_optimization_levels(model_path, tmp_path, level, want):
    """Each ORT level maps to ondine's; the optimized model file is written at that level:
    at 0 and 1 standard ONNX, at 2 with the Add and Relu fused into ondine's FusedAdd (whose
    broadcast of the bias once failed to load back); each file loads again and computes the
    same (numpy's reference)."""
    so = ondine.SessionOptions()
    so.graph_optimization_level = level
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    assert so.level() == want
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    sess = ondine.InferenceSession(model_path, so)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], reference(x), rtol=1e-5, atol=1e-6)
    ops = [n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node]
    assert ops == (["MatMul", "FusedAdd"] if want == 2 else ["MatMul", "Add", "Relu"]), ops
    opt = ondine.InferenceSession(so.optimized_model_filepath, optimization_level=0)
    np.testing.assert_allclose(opt.run(None, {"x": x})[0], reference(x), rtol=1e-5, atol=1e-6)


def test_bad_options(model_path):
    so = ondine.SessionOptions()
    so.graph_optimization_level = 5
    with pytest.raises(ondine.InvalidArgument, match="graph_optimization_level takes"):
        ondine.InferenceSession(model_path, so)
    so = ondine.SessionOptions()
    so.intra_op_num_threads = -1
    with pytest.raises(ondine.InvalidArgument, match="intra_op_num_threads takes"):
        ondine.InferenceSession(model_path, so)
    with pytest.raises(ondine.InvalidArgument, match="sess_options takes"):
        ondine.InferenceSession(model_path, {"intra_op_num_threads": 2})


def test_profiling(model_path, tmp_path):
    so = ondine.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = str(tmp_path / "prof_")
    sess = ondine.InferenceSession(model_path, so)
    x = np.ones((1, 4), np.float32)
    for _ in range(3):
        sess.run(None, {"x": x})
    path = sess.end_profiling()
    assert os.path.basename(path).startswith("prof_") and path.endswith(".json")
    events = json.load(open(path))
    assert [e["name"] for e in events] == ["model_run"] * 3
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in events)
    assert ondine.InferenceSession(model_path).end_profiling() == ""


def test_int8_without_calibration_warns(model_path):
    with pytest.warns(UserWarning, match="int8 calibrated on seeded random inputs"):
        ondine.InferenceSession(model_path, precision="int8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = RNG.standard_normal((4, 4)).astype(np.float32)
        ondine.InferenceSession(model_path, precision="int8", calibration=[{"x": x}])


def test_run_options(model_path):
    sess = ondine.InferenceSession(model_path)
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    ro = ondine.RunOptions()
    assert (ro.log_severity_level, ro.log_verbosity_level, ro.logid, ro.terminate) == \
        (2, 0, "", False)
    np.testing.assert_allclose(sess.run(None, {"x": x}, ro)[0], reference(x), rtol=1e-5,
                               atol=1e-6)
    # ORT fails a run whose options say terminate; ondine refuses to start it.
    ro.terminate = True
    with pytest.raises(ondine.InvalidArgument, match="run_options.terminate is set"):
        sess.run(None, {"x": x}, ro)
    with pytest.raises(ondine.InvalidArgument, match="run_options takes None or an ondine"):
        sess.run(None, {"x": x}, {"terminate": False})


# IR 3 (as models before ONNX 1.3 were written): the initializer W is also a graph input, a
# default that a run may replace (ONNX Runtime's "overridable initializers").
W0 = np.array([[1, 2, 3], [4, 5, 6]], np.float32)


@pytest.fixture(scope="module")
def ir3_path(tmp_path_factory):
    """y = x * W + W, x and W float[2, 3], W an initializer listed among the inputs."""
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "W"], ["y"])],
        "ir3", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                helper.make_tensor_value_info("W", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(W0, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)])
    model.ir_version = 3
    path = tmp_path_factory.mktemp("ir3") / "ir3.onnx"
    onnx.save(model, str(path))
    return str(path)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_overridable_initializers(ir3_path, level):
    sess = ondine.InferenceSession(ir3_path, optimization_level=level)
    # As ONNX Runtime 1.30 lists them (onnxruntime-node's inputNames is ['x'] for this model):
    # get_inputs() leaves W out, get_overridable_initializers() has it.
    assert [a.name for a in sess.get_inputs()] == ["x"]
    w, = sess.get_overridable_initializers()
    assert (w.name, w.shape, w.type) == ("W", [2, 3], "tensor(float)")
    x = np.array([[1, -1, 2], [0, 3, -2]], np.float32)
    w1 = np.array([[2, 0, -1], [1, 1, 0.5]], np.float32)
    # By hand: x * W + W with the model's W, then with w1 for one run, then the model's again.
    default = [[2, 0, 9], [4, 20, -6]]
    assert sess.run(None, {"x": x})[0].tolist() == default
    assert sess.run(None, {"x": x, "W": w1}, ondine.RunOptions())[0].tolist() == \
        [[4, 0, -3], [1, 4, -0.5]]
    assert sess.run(None, {"W": W0 * 0, "x": x})[0].tolist() == [[0] * 3] * 2
    assert sess.run(["y"], {"x": x})[0].tolist() == default
    with pytest.raises(ondine.InvalidInput, match="overridable initializers: W"):
        sess.run(None, {"x": x, "V": w1})
    with pytest.raises(ondine.InvalidInput, match="input 'x' is missing"):
        sess.run(None, {"W": w1})
    with pytest.raises(ondine.InvalidInput,
                       match=r"input 'W': expected float\[2,3\], got float\[1,3\]"):
        sess.run(None, {"x": x, "W": w1[:1]})
