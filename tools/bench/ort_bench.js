// ort_bench.js: the ONNX Runtime side of tools/bench/compare.py, run by Node.js with the
// onnxruntime-node package installed in the build tree. Mirrors `ondine bench --json`: the
// same seeded input generator, all graph optimizations on, the given thread count.
// usage: node ort_bench.js MODEL BATCH THREADS ITERS WARMUP [--cold]
const ort = require('onnxruntime-node');

function percentile(sorted, p) {
  const k = Math.ceil(p / 100 * sorted.length) - 1;
  return sorted[Math.min(Math.max(k, 0), sorted.length - 1)];
}

(async () => {
  const [model, batch, threads, iters, warmup] = process.argv.slice(2, 7).map((v, i) => i ? Number(v) : v);
  const cold = process.argv.includes('--cold');
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const loadMs = performance.now() - t0;
  const feeds = {};
  let state = 12345;
  for (const meta of session.inputMetadata) {
    const name = meta.name;
    const shape = meta.shape.map(d => typeof d === 'number' && d >= 0 ? d : batch);
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      data[i] = (state >>> 8) / 16777216 * 2 - 1;
    }
    feeds[name] = new ort.Tensor('float32', data, shape);
  }
  let t = performance.now();
  await session.run(feeds);
  const firstMs = performance.now() - t;
  if (cold) {
    console.log(JSON.stringify({first_result_ms: performance.now() - t0}));
    return;
  }
  const lat = [];
  for (let i = 0; i < warmup + iters; i++) {
    t = performance.now();
    await session.run(feeds);
    if (i >= warmup) lat.push(performance.now() - t);
  }
  const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({
    load_ms: loadMs, first_run_ms: firstMs, min_ms: lat[0], p50_ms: percentile(lat, 50),
    p90_ms: percentile(lat, 90), p99_ms: percentile(lat, 99), mean_ms: mean,
    throughput_ips: batch * 1000 / mean,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024, batch, threads,
  }));
})().catch(e => { console.error('ort_bench: ' + e.message); process.exit(1); });
