#!/usr/bin/python3
"""`ondine inspect --passes` on a model built to have one near miss of each kind: `--json` lists
every rejected candidate with its nodes and the rule it broke, in the words the pass file's
banner quotes (the reason strings defined in runtime/passes/*.c, which docs/passes.md states
word for word), and the fusions as structured records; the text form counts them, `--why-not`
lists them; `--dot` labels carry names, attributes, small constants and symbolic shapes.
Usage: inspect_why_not.py ONDINE_BINARY SOURCE_DIR WORK_DIR"""
import json
import os
import re
import subprocess
import sys

import onnx
from onnx import TensorProto, helper

import near_misses

ondine, src, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
path = f"{work}/near_misses.onnx"
model, outs, WANT = near_misses.build(path)


def inspect(*args):
    return subprocess.run([ondine, "inspect", path, *args], check=True, capture_output=True,
                          text=True).stdout


# The rules as the pass files define them: `static const char NAME[] = "..." "...";`.
def rules(pass_name):
    files = {f"{src}/runtime/passes/{pass_name}.c", f"{src}/runtime/passes/fold_batchnorm.c"}
    found = set()
    for f in files:
        text = open(f).read()
        for decl in re.findall(r'static const char [A-Z_0-9]+\[\] =((?:\s*"(?:[^"\\]|\\.)*")+);',
                               text):
            found.add("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', decl)))
    return found


# int8: fold_qdq runs too.
report = json.loads(inspect("--passes", "--json", "--precision", "int8"))
got = report["not_fused"]
assert len(got) == len(WANT), json.dumps(got, indent=1)
for pass_name, names, words in WANT:
    match = [r for r in got if r["pass"] == pass_name and r["nodes"] == names]
    assert len(match) == 1 and words in match[0]["reason"], (pass_name, names, got)
    assert match[0]["reason"] in rules(pass_name), (match[0]["reason"], pass_name)
assert report["fusions"] == [{"pass": "batchnorm_scale_shift", "nodes": ["bn1"], "into": "bn1",
                              "post_ops": [], "line": "BatchNormalization 'bn1' -> ScaleShift "
                              "'bn1'"}], report["fusions"]
print(f"{len(got)} near misses, each with its rule: ok")

# docs/passes.md states every rule in the same words.
doc = " ".join(open(f"{src}/docs/passes.md").read().split())
for pass_name in ("fold_qdq", "fold_batchnorm", "batchnorm_scale_shift", "fuse_swish",
                  "fuse_gelu", "fuse_layernorm", "fuse_residual_add", "fuse_inner_product",
                  "fuse_activation", "fuse_add_activation"):
    for rule in rules(pass_name):
        assert rule in doc, (pass_name, rule)
print("docs/passes.md quotes every rule: ok")

# A fusion's record lists the post-ops it leaves: add5's Relu, once add5's sum is read only by it.
outs2 = [o for o in outs if o != "z5"]
del model.graph.output[:]
model.graph.output.extend(helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs2)
onnx.save(model, path)
fused = json.loads(inspect("--passes", "--json"))["fusions"]
assert {"pass": "fuse_add_activation", "nodes": ["add5", "r5"], "into": "add5",
        "post_ops": ["relu"], "line": "Add 'add5' + Relu 'r5' -> Add 'add5' [relu]"} in fused, fused
# fp32: fold_qdq does not run and add5 fuses: 7 rejected.
text = inspect("--passes")
assert re.search(r"^not fused   7 \(--why-not lists them\)$", text, re.M), text
why = inspect("--passes", "--why-not")
line = ("  fuse_residual_add: 'c3' + 'add3': rule not met: the shortcut is made before the Conv "
        "in node order and no node after the Conv reads it or a tensor that may share its storage")
assert line in why.splitlines(), why
print("text: a count, --why-not lists them: ok")

# The graph's labels: name, attributes, small constants by value, shapes with the symbol N.
subprocess.run([ondine, "inspect", path, "-O0", "--dot", f"{work}/near_misses.dot"], check=True,
               stdout=subprocess.DEVNULL)
dot = open(f"{work}/near_misses.dot").read()
for label in ('label="Conv p1\\nc1\\n[N,3,5,5]"', 'label="Mul\\nmul10\\nconst 2\\n[N,3,5,5]"',
              'label="Clip\\nclip11\\nconst 0, 6\\n[N,3,5,5]"',
              'label="Gemm\\ngemm6\\n[N,4]"'):
    assert label in dot, (label, dot)
assert "[1," not in dot, dot
print("dot labels: ok")
