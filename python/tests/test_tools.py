"""ondine.inspect and ondine.optimize (the command line's `inspect --json` and `optimize`)
against the model file as the onnx package reads it, and torch's outputs for the optimized
model. Features the command line does not have yet (`inspect --passes`, `optimize`) are tested
when its --help lists them, and otherwise must raise ondine.Unsupported."""
import os
import shutil
from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import ondine
from ondine import tools


@pytest.fixture(scope="module")
def model(resnet18):
    return os.path.join(resnet18, "model.onnx")


def shape_of(value_info):
    return [d.dim_value if d.HasField("dim_value") else d.dim_param or None
            for d in value_info.type.tensor_type.shape.dim]


def test_command_is_beside_the_library():
    lib_dir = os.path.dirname(os.path.realpath(ondine.library_path))
    assert tools.command() == os.path.join(os.path.dirname(lib_dir), "bin", "ondine")


def test_inspect_describes_the_file(model):
    m = onnx.load(model)
    got = ondine.inspect(model, passes=False, level=0, batch=4)
    assert got["model"] == model
    assert got["batch"] == 4
    assert [(v["name"], v["shape"]) for v in got["inputs"]] == \
        [(v.name, shape_of(v)) for v in m.graph.input]
    assert [(v["name"], v["shape"]) for v in got["outputs"]] == \
        [(v.name, shape_of(v)) for v in m.graph.output]
    # -O0 loads the graph as it is in the file.
    assert got["nodes"] == dict(Counter(n.op_type for n in m.graph.node))
    assert got["nodes_total"] == len(m.graph.node)
    assert got["params"] == sum(numpy_helper.to_array(t).size for t in m.graph.initializer)


def test_inspect_passes(model):
    if tools.has_option("inspect", "--passes"):
        got = ondine.inspect(model)
        assert got["nodes_total"] > 0
    else:
        with pytest.raises(ondine.Unsupported, match="inspect --passes"):
            ondine.inspect(model)


def test_inspect_a_name_that_looks_like_an_option(model, tmp_path, monkeypatch):
    shutil.copy(model, tmp_path / "-model.onnx")
    monkeypatch.chdir(tmp_path)
    assert ondine.inspect("-model.onnx", passes=False)["nodes_total"] > 0


def test_inspect_errors(model, tmp_path):
    missing = str(tmp_path / "missing.onnx")
    with pytest.raises(ondine.CommandFailed) as e:
        ondine.inspect(missing, passes=False)
    assert e.value.returncode == 1 and e.value.status is None
    assert missing in e.value.message
    with pytest.raises(ondine.InvalidArgument, match="level"):
        ondine.inspect(model, passes=False, level=3)
    with pytest.raises(ondine.InvalidArgument, match="batch"):
        ondine.inspect(model, passes=False, batch=0)


@pytest.mark.parametrize("level", [1, 2])
def test_optimize(model, resnet18, tmp_path, level):
    out = str(tmp_path / f"resnet18_O{level}.onnx")
    if not tools.has_verb("optimize"):
        with pytest.raises(ondine.Unsupported, match="optimize"):
            ondine.optimize(model, out, level=level)
        return
    assert ondine.optimize(model, out, level=level) == out
    written = onnx.load(out)
    if level == 1:
        # -O1 writes standard ONNX only: the onnx package's checker accepts it.
        onnx.checker.check_model(written)
        assert {n.domain for n in written.graph.node} <= {"", "ai.onnx"}
    sess = ondine.InferenceSession(out, threads=2)
    for k in (0, 1):
        d = os.path.join(resnet18, f"test_data_set_{k}")
        x = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "input_0.pb")))
        want = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "output_0.pb")))
        got, = sess.run(None, {sess.get_inputs()[0].name: x})
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
