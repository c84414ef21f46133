#!/usr/bin/python3
"""`ondine run` on hostile files: each must exit 1 with one line on stderr naming the problem,
without a crash or a hang, and (outside sanitizer builds, which reserve terabytes of shadow
memory) with the address space capped at 2 GiB so that an attempt to take the machine's memory
fails instead of succeeding. The subprocess timeout only catches hangs.
Usage: cli_hostile.py ONDINE_BINARY WORK_DIR [--sanitized]"""
import os
import random
import resource
import subprocess
import sys

import onnx
from onnx import helper, numpy_helper, TensorProto
import numpy as np

ondine, work = sys.argv[1:3]
sanitized = "--sanitized" in sys.argv[3:]
os.makedirs(work, exist_ok=True)
CAP = 2 << 30


def varint(v):
    out = b""
    while True:
        out += bytes([(v & 0x7f) | (0x80 if v > 0x7f else 0)])
        v >>= 7
        if not v:
            return out


def field(tag, payload):
    return bytes([tag]) + varint(len(payload)) + payload


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "hostile", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def out(name):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


small = model([helper.make_node("Relu", ["x"], ["y"])],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])], [out("y")])
nested = b""
for _ in range(200):  # graph -> node -> attribute -> g, from the inside out
    nested = field(0x0a, field(0x2a, field(0x32, nested)))
rng = random.Random(7)
cases = [
    # name, bytes, substring of the message
    ("empty", b"", "protobuf parse failed"),
    ("random", bytes(rng.getrandbits(8) for _ in range(4096)), "not a valid ONNX model"),
    ("truncated", small[:len(small) // 2], "not a valid ONNX model"),
    ("huge_length", b"\x3a\xff\xff\xff\xff\x0f\x00", "protobuf parse failed"),
    ("nested", field(0x3a, nested), "nest deeper than 64 levels"),
    ("amplification", b"\x3a" + varint(6_000_000) + b"\x0a\x00" * 3_000_000,
     "parsing needs more than"),
    ("constant_of_shape", model([helper.make_node("ConstantOfShape", ["s"], ["y"])], [],
                                [out("y")], [ints("s", [1 << 20, 1 << 20])]),
     "(max_tensor_elements)"),
    ("constant_of_shape_8gib",
     model([helper.make_node("ConstantOfShape", ["s"], ["y"],
                             value=numpy_helper.from_array(np.array([7], np.int64)))],
           [], [out("y")], [ints("s", [1 << 30])]),
     "(max_total_bytes)"),
    ("pad", model([helper.make_node("Pad", ["x", "p"], ["y"])],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])], [out("y")],
                  [ints("p", [1 << 31, 1 << 31, 0, 0])]), "node 'Pad_0' (Pad): output 0"),
    ("expand", model([helper.make_node("Expand", ["x", "s"], ["y"])],
                     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])], [out("y")],
                     [ints("s", [1 << 20, 1 << 20])]), "node 'Expand_0' (Expand): output 0"),
    ("input_4g", model([helper.make_node("Relu", ["x"], ["y"])],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [65536, 65536])],
                       [out("y")]), "(max_tensor_elements)"),
    ("input_random", model([helper.make_node("Relu", ["x"], ["y"])],
                           [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8192, 16384])],
                           [out("y")]), "too large for random data"),
    ("gather_index", model([helper.make_node("Gather", ["d", "i"], ["y"])],
                           [helper.make_tensor_value_info("i", TensorProto.INT64, [64])],
                           [out("y")],
                           [numpy_helper.from_array(np.zeros((3, 2), np.float32), "d")]),
     "is out of range for a dim of 3"),
]
if not sanitized:
    # Within every limit, but 3.6 GB of activations: only the 2 GiB cap stops it.
    cases.append(("activation_3gb",
                  model([helper.make_node("Pad", ["x", "p"], ["y"])],
                        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 16, 16])],
                        [out("y")], [ints("p", [0, 0, 15000, 15000, 0, 0, 15000, 15000])]),
                  "cannot allocate"))


def cap():
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


failures = []
for name, data, want in cases:
    path = os.path.join(work, name + ".onnx")
    with open(path, "wb") as f:
        f.write(data)
    p = subprocess.run([ondine, "run", path, "--threads", "2"], capture_output=True, text=True,
                       timeout=300, preexec_fn=None if sanitized else cap)
    lines = p.stderr.splitlines()
    if p.returncode != 1 or len(lines) != 1 or not lines[0].startswith("ondine run: ") \
            or want not in lines[0]:
        failures.append(f"{name}: exit {p.returncode}, stderr {p.stderr!r} (want {want!r})")
    else:
        print(f"{name}: {lines[0]}")
if failures:
    sys.exit("\n".join(failures))
print(f"ondine run: {len(cases)} hostile files refused")
