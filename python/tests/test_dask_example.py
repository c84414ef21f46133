"""examples/python/dask_batch.py: the Fashion-MNIST ResNet-20 on a 2-process LocalCluster bound
to 127.0.0.1 gives the single-process evaluation's labels exactly, one session per worker;
accuracy is recomputed here from the IDX labels, and the labels are checked against torch's
predictions when the model's JSON record (tools/train/train_fashion.py) is there. Damaged IDX
files are refused with a message.

The model is examples/models/resnet20_fashion.onnx, or $ONDINE_FASHION_MODEL; the Dask tests
skip when it is absent."""
import gzip
import json
import os
import struct
import subprocess

import numpy as np
import pytest

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "examples", "python", "dask_batch.py")
MODEL = os.environ.get("ONDINE_FASHION_MODEL",
                       os.path.join(ROOT, "examples", "models", "resnet20_fashion.onnx"))
DATA = "/usr/share/datasets/fashion-mnist"
LIMIT = 1000
# Labels that may differ from torch's: near-ties between two classes' logits.
MAX_DIFFER = 2

needs_model = pytest.mark.skipif(
    not os.path.isfile(MODEL),
    reason=f"{MODEL} is absent: it comes with the Fashion-MNIST classify example "
           "(tools/train/train_fashion.py makes it); set ONDINE_FASHION_MODEL to use another")


def example(*args, check=True):
    p = subprocess.run(["/usr/bin/python3", SCRIPT, *args], capture_output=True, text=True,
                       timeout=300)
    if check:
        assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
    return p


def read_labels():
    raw = gzip.open(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")).read()
    magic, n = struct.unpack(">II", raw[:8])
    assert magic == 0x801 and n == len(raw) - 8
    return np.frombuffer(raw, np.uint8, offset=8)


@needs_model
def test_dask_matches_single_process(tmp_path):
    common = ["--model", MODEL, "--data", DATA, "--threads", "1", "--shards", "4",
              "--limit", str(LIMIT), "--json"]
    dask = json.loads(example(*common, "--workers", "2",
                              "--predictions", str(tmp_path / "dask.npy")).stdout)
    local = json.loads(example(*common, "--local",
                               "--predictions", str(tmp_path / "local.npy")).stdout)
    got, want = np.load(tmp_path / "dask.npy"), np.load(tmp_path / "local.npy")
    assert got.shape == (LIMIT,)
    np.testing.assert_array_equal(got, want)
    labels = read_labels()[:LIMIT]
    correct = int((got == labels).sum())
    for report in (dask, local):
        assert report["images"] == LIMIT and report["shards"] == 4
        assert report["correct"] == correct
        assert report["accuracy"] == correct / LIMIT
    assert "127.0.0.1" in dask["where"]
    # One session per worker process that ran shards, reused for all of that worker's shards.
    assert dask["sessions"] == len(dask["session_s"]) <= 2
    assert local["sessions"] == 1

    record = os.path.splitext(MODEL)[0] + ".json"
    if os.path.isfile(record):
        torch_labels = np.array(json.load(open(record))["predictions"][:LIMIT])
        assert int((got != torch_labels).sum()) <= MAX_DIFFER


def test_damaged_idx_is_refused(tmp_path):
    images = gzip.open(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")).read()
    labels = gzip.open(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")).read()
    cases = {"magic": struct.pack(">I", 0x801) + images[4:],
             "bytes of data": images[:-1],
             "shorter than an IDX header": images[:6]}
    for words, damaged in cases.items():
        with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb", compresslevel=1) as f:
            f.write(damaged)
        with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb", compresslevel=1) as f:
            f.write(labels)
        p = example("--data", str(tmp_path), "--local", check=False)
        assert p.returncode == 1 and words in p.stderr, (words, p.stderr)
