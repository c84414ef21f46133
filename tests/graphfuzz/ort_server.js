// ort_server.js: ONNX Runtime (npm onnxruntime-node, graph optimizations off) as an oracle for
// fuzz.py. One JSON request a line on stdin: {"model": PATH, "inputs": {NAME: {"dims": [...],
// "data": BASE64 float32}}}; one JSON answer a line: {"outputs": [{"dims", "data"}...]} in
// the model's output order, or {"error": MESSAGE}.
const ort = require('onnxruntime-node');
const readline = require('readline');

async function answer(req) {
  const session = await ort.InferenceSession.create(req.model, {
    graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, interOpNumThreads: 1,
  });
  const feeds = {};
  for (const [name, v] of Object.entries(req.inputs)) {
    const buf = Buffer.from(v.data, 'base64');
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    feeds[name] = new ort.Tensor('float32', Float32Array.from(data), v.dims);
  }
  const res = await session.run(feeds);
  return {
    outputs: session.outputNames.map(n => ({
      dims: res[n].dims,
      data: Buffer.from(res[n].data.buffer, res[n].data.byteOffset,
                        res[n].data.byteLength).toString('base64'),
    })),
  };
}

const queue = [];
let busy = false;
async function drain() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const line = queue.shift();
    let out;
    try {
      out = await answer(JSON.parse(line));
    } catch (e) {
      out = {error: String(e.message || e).split('\n')[0]};
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  }
  busy = false;
}
readline.createInterface({input: process.stdin}).on('line', l => { queue.push(l); drain(); });
