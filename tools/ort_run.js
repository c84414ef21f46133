// ort_run.js: runs a model with ONNX Runtime (npm onnxruntime-node) on float32 inputs and writes
// its float32 outputs: the independent oracle for tests and tools that need one beside torch.
// Inputs and outputs are raw little-endian float32 files with a JSON sidecar of names and
// shapes, so no protobuf or npy code is needed here.
// usage: NODE_PATH=build/node/node_modules node ort_run.js MODEL SPEC.json OUTDIR [disabled|all]
//   SPEC.json: {"inputs": [{"name", "shape", "file"}]}; writes OUTDIR/<k>.f32 and
//   OUTDIR/outputs.json ({"outputs": [{"name", "shape", "file"}]}).
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

(async () => {
  const [model, specPath, outDir, level] = process.argv.slice(2);
  const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: level || 'disabled', intraOpNumThreads: 1,
  });
  const feeds = {};
  for (const inp of spec.inputs) {
    const buf = fs.readFileSync(inp.file);
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    feeds[inp.name] = new ort.Tensor('float32', Float32Array.from(data), inp.shape);
  }
  const results = await session.run(feeds);
  const outputs = [];
  session.outputNames.forEach((name, k) => {
    const t = results[name];
    if (t.type !== 'float32') throw new Error(`output ${name} is ${t.type}, not float32`);
    const file = path.join(outDir, `${k}.f32`);
    fs.writeFileSync(file, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    outputs.push({name, shape: t.dims, file});
  });
  fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify({outputs}));
})().catch(e => { console.error(`ort_run: ${e.message}`); process.exit(1); });
