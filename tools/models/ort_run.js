// ort_run.js: runs one model with ONNX Runtime (npm onnxruntime-node, which `make bench`
// installs into build/node) on given inputs, for the Python checks that use it as an oracle.
// usage: NODE_PATH=build/node/node_modules node ort_run.js MODEL DIR
// DIR/inputs.json lists {name, type, shape, file} with raw little-endian data files beside it
// (type "float32", "int64", "uint8" or "int8"); the outputs land in DIR as out_<i>.bin with
// DIR/outputs.json listing {name, type, shape, file}. All graph optimizations are off: the
// oracle is the plain kernels.
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const ARRAYS = {float32: Float32Array, int64: BigInt64Array, uint8: Uint8Array, int8: Int8Array,
                int32: Int32Array};

(async () => {
  const [model, dir] = process.argv.slice(2, 4);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'disabled',
  });
  const feeds = {};
  for (const i of JSON.parse(fs.readFileSync(path.join(dir, 'inputs.json')))) {
    const buf = fs.readFileSync(path.join(dir, i.file));
    const Arr = ARRAYS[i.type];
    const data = new Arr(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    feeds[i.name] = new ort.Tensor(i.type, data, i.shape);
  }
  const results = await session.run(feeds);
  const listing = [];
  session.outputNames.forEach((name, k) => {
    const t = results[name];
    const file = `out_${k}.bin`;
    fs.writeFileSync(path.join(dir, file), Buffer.from(t.data.buffer, t.data.byteOffset,
                                                       t.data.byteLength));
    listing.push({name, type: t.type, shape: t.dims, file});
  });
  fs.writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify(listing));
})().catch(e => { console.error('ort_run: ' + e.message); process.exit(1); });
