#!/usr/bin/python3
"""`ondine inspect --passes --html` rendered in headless Chromium: the page (built from the
near-miss model of tests/near_misses.py, with --profile) runs its script without errors, holds
both graphs as inline SVG with the node names, fills the fused and rejected nodes, lists the
fusions, the rejections and per-node time and kernel, highlights a node's records in both
graphs (report.html#node=NAME, as a click does), refers to nothing outside itself, and
its screenshot shows the graphs: non-white pixels, among them the fused nodes' green, in the
box the page reports for them. Exits 77 (ctest SKIP) when chromium is not installed.
Usage: inspect_html.py ONDINE_BINARY WORK_DIR"""
import os
import re
import shutil
import subprocess
import sys

from PIL import Image

import near_misses

ondine, work = sys.argv[1:3]
chromium = shutil.which("chromium")
if not chromium:
    print("chromium is not installed (tools/deps/debian-packages.txt): skipped")
    sys.exit(77)
os.makedirs(work, exist_ok=True)
model = f"{work}/near_misses.onnx"
onnx_model, _, _ = near_misses.build(model)
page = f"{work}/report.html"
subprocess.run([ondine, "inspect", model, "--passes", "--html", page, "--profile"], check=True,
               stdout=subprocess.DEVNULL)
html = open(page).read()
# Self-contained: no URL but the SVG namespaces.
refs = set(re.findall(r'(?:src|href)="(?!#)([^"]*)"', html)) | set(re.findall(r"url\(", html))
assert not refs, refs
assert html.count("<svg") == 2, "want the loaded and the optimized graph"

SIZE = (1400, 1000)
BROWSER = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--window-size={SIZE[0]},{SIZE[1]}", "--enable-logging=stderr", "--v=0"]
dom = subprocess.run(BROWSER + ["--dump-dom", f"file://{page}"], capture_output=True,
                     text=True, timeout=120)
# Console messages come as "...:CONSOLE(line)] "text", source: ..."; the page logs none.
console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
assert not console, console
ready = re.search(r'<body[^>]* data-ready="(\d+)"', dom.stdout)
assert ready, "the page's script did not run through"
graph = re.search(r'data-graph="(\d+),(\d+),(\d+),(\d+)"', dom.stdout)
x, y, w, h = map(int, graph.groups())
nodes = int(ready.group(1))
# Every node in both graphs (none fuses away at fp32: add5's sum is a graph output), with
# the inputs' and outputs' ovals.
ops = len(onnx_model.graph.node)
io = len(onnx_model.graph.input) + len(onnx_model.graph.output)
assert nodes == 2 * (ops + io), nodes
assert len(re.findall(r'<g id="bn\d+"', dom.stdout)) == ops
assert len(re.findall(r'<g id="an\d+"', dom.stdout)) == ops
for name in ("c1", "bn1", "sig2", "add3", "gemm6", "clip7"):
    assert f"<title>" in dom.stdout and f">{name}<" in dom.stdout, name
assert re.search(r'class="node [^"]*p-fold_batchnorm[^"]*missed"', dom.stdout), "c1 + bn1"
assert "rule not met" in dom.stdout and "ScaleShift" in dom.stdout
assert "<th>ms</th><th>kernel</th>" in dom.stdout
# --profile: c1 ran on a oneDNN convolution ("brgconv:avx512_core", "jit:avx2", ...).
row = re.search(r"<tr id=\"row\d+\"><td class=\"n\">\d+</td><td>c1</td>.*?</tr>", dom.stdout)
assert row and re.search(r"<td>[a-z_0-9]+:[a-z_0-9]+</td></tr>", row.group(0)), row
# ... and the optimized graph's boxes carry their times.
assert len(re.findall(r">\d+\.\d{3} ms</text>", dom.stdout)) == ops, "a time per node"

# report.html#node=bn1 highlights the records naming bn1: its fusion into a ScaleShift and
# fold_batchnorm's rejection of c1 + bn1: c1 and bn1 in both graphs.
picked = subprocess.run(BROWSER + ["--dump-dom", f"file://{page}#node=bn1"], capture_output=True,
                        text=True, timeout=120).stdout
lit = re.findall(r'<g id="([ab])n\d+" class="[^"]* hl"[^>]*>\s*<title>[^<]*</title>\s*'
                 r'<g id="[^"]*"><a xlink:title="([^"&\n]*)', picked)
assert sorted(lit) == [("a", "bn1"), ("a", "c1"), ("b", "bn1"), ("b", "c1")], lit

shot = f"{work}/report.png"
run = subprocess.run(BROWSER + [f"--screenshot={shot}", f"file://{page}"], capture_output=True,
                     text=True, timeout=120)
assert os.path.exists(shot), run.stderr[-2000:]
img = Image.open(shot).convert("RGB")
assert img.size == SIZE, img.size
box = img.crop((x, y, min(x + w, SIZE[0]), min(y + h, SIZE[1])))
assert box.size[0] > 400 and box.size[1] > 200, (x, y, w, h)
colors = box.getcolors(box.size[0] * box.size[1])
inked = sum(n for n, c in colors if min(c) < 200)
green = sum(n for n, c in colors if c == (0xc9, 0xf0, 0xc9))
orange = sum(n for n, c in colors if c == (0xff, 0xe2, 0xb8))
assert inked > 0.01 * box.size[0] * box.size[1], inked
assert green > 500 and orange > 500, (green, orange)
print(f"{nodes} graph nodes, {inked} inked pixels, {green} green, {orange} orange in the "
      f"graphs' box {w}x{h}: ok")
