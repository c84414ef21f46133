// ort_run.js: runs a model with ONNX Runtime (npm onnxruntime-node) on given inputs and writes
// its outputs: the independent oracle for tests and tools that need one beside torch.
// Inputs and outputs are raw little-endian files with a JSON sidecar of names, shapes and
// types, so no protobuf or npy code is needed here.
// usage: NODE_PATH=build/node/node_modules node ort_run.js MODEL SPEC.json OUTDIR [disabled|all]
//   SPEC.json: {"inputs": [{"name", "shape", "file", "type"}]}, type "float32" (the default),
//   "int64", "int32", "int8" or "uint8"; writes OUTDIR/<k>.f32 for a float32 output and
//   OUTDIR/<k>.bin for another, and OUTDIR/outputs.json ({"outputs": [{"name", "shape",
//   "type", "file"}]}).
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const ARRAYS = {float32: Float32Array, int64: BigInt64Array, int32: Int32Array, int8: Int8Array,
                uint8: Uint8Array};

(async () => {
  const [model, specPath, outDir, level] = process.argv.slice(2);
  const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: level || 'disabled', intraOpNumThreads: 1,
  });
  const feeds = {};
  for (const inp of spec.inputs) {
    const type = inp.type || 'float32';
    const Arr = ARRAYS[type];
    if (!Arr) throw new Error(`input ${inp.name}: type ${type} is not handled`);
    const buf = fs.readFileSync(inp.file);
    const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    feeds[inp.name] = new ort.Tensor(type, new Arr(bytes), inp.shape);
  }
  const results = await session.run(feeds);
  const outputs = [];
  session.outputNames.forEach((name, k) => {
    const t = results[name];
    if (!ARRAYS[t.type]) throw new Error(`output ${name} is ${t.type}, which is not handled`);
    const file = path.join(outDir, `${k}.${t.type === 'float32' ? 'f32' : 'bin'}`);
    fs.writeFileSync(file, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    outputs.push({name, shape: t.dims, type: t.type, file});
  });
  fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify({outputs}));
})().catch(e => { console.error(`ort_run: ${e.message}`); process.exit(1); });
