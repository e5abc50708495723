// The explorer page: loads the model exported by `flowgpu export-web`, opens WebGPU through
// the wasm module and draws samples, the layer-by-layer view and interpolations. Sets
// data-state on <body>: "ready" once the first samples are drawn, "error" with the message.
import init, { Explorer } from "./pkg/flowgpu_web.js";

const $ = (id) => document.getElementById(id);
const started = performance.now();
const SCALE = 3;          // screen pixels per image pixel
const SAMPLE_GRID = 8;    // 8 x 8 samples
const LAYER_ROWS = 10;
const STEPS = 10;
const GALLERY = 60;       // test digits offered for interpolation

function fail(message) {
  document.body.dataset.state = "error";
  document.body.dataset.error = message;
  $("status").textContent = message;
}

// Draws `count` images (side x side floats in [0, 1], row-major, back to back) into a
// grid of `cols` columns on `canvas`.
function drawGrid(canvas, pixels, count, cols, side, gapAfter = []) {
  const rows = Math.ceil(count / cols);
  const gap = 4;
  const extra = (c) => gapAfter.filter((g) => c > g).length * gap;
  canvas.width = cols * side + extra(cols);
  canvas.height = rows * side;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const img = ctx.createImageData(side, side);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < side * side; p++) {
      const v = Math.round(255 * Math.min(1, Math.max(0, pixels[i * side * side + p])));
      img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = v;
      img.data[4 * p + 3] = 255;
    }
    const c = i % cols;
    ctx.putImageData(img, c * side + extra(c), Math.floor(i / cols) * side);
  }
  canvas.style.width = `${canvas.width * SCALE}px`;
  canvas.style.height = `${canvas.height * SCALE}px`;
}

// The judge's line for temperature t: how many of 1,000 samples at t (seed 1; the grid at
// seed 1 is their first 64) a digit classifier is sure are digits, beside real test digits.
function showJudge(judged, t, seed) {
  const el = $("judge");
  if (!judged) {
    el.textContent = "";
    return;
  }
  const pct = (s) => `${(100 * s.figures.digit_like).toFixed(1)}%`;
  const line = judged.sets.find((s) => s.temperature !== null && !s.label.startsWith("untrained")
    && Math.abs(s.temperature - t) < 0.026);
  const real = judged.sets.find((s) => s.label.startsWith("real"));
  const untrained = judged.sets.find((s) => s.label.startsWith("untrained"));
  if (!line) {
    el.textContent = `Sample judge: not measured at T = ${t.toFixed(2)}.`;
    return;
  }
  const f = line.figures;
  el.textContent = `Sample judge at T = ${t.toFixed(2)}: ${pct(line)} of ${f.images} samples are digit-like ` +
    `(a digit classifier, ${(100 * judged.judge.test_accuracy).toFixed(2)}% on the test set, gives a digit ` +
    `probability >= 0.9), class entropy ${f.class_entropy_bits.toFixed(2)} bits, MNIST FID ` +
    `${f.frechet.toFixed(1)}; real test digits ${real ? pct(real) : "-"}, an untrained flow ` +
    `${untrained ? pct(untrained) : "-"}. Measured at export with seed 1` +
    (seed === 1 ? ": this grid is the first 64 of them." : "; this grid (seed " + seed + ") is another draw.");
  document.body.dataset.judge = f.digit_like.toFixed(4);
}

async function main() {
  if (!navigator.gpu) {
    fail("This browser offers no WebGPU. Use a recent Chrome, Edge or Safari (Firefox: 141+ on Windows, or enable dom.webgpu.enabled); headless Chromium needs --enable-unsafe-webgpu.");
    return;
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) {
    fail("WebGPU is present but offers no adapter (it may be disabled for this GPU; in Chrome see chrome://gpu). Headless Chromium needs --enable-unsafe-webgpu.");
    return;
  }
  await init();
  const fetchBytes = async (name) => {
    const r = await fetch(name);
    if (!r.ok) throw new Error(`could not load ${name}: HTTP ${r.status}. Serve the folder that flowgpu export-web wrote (python3 -m http.server -d DIR -b 127.0.0.1).`);
    return new Uint8Array(await r.arrayBuffer());
  };
  const [model, images, labels] = await Promise.all([
    fetchBytes("model.safetensors"),
    fetchBytes("test-images.u8"),
    fetchBytes("test-labels.u8"),
  ]);
  const ex = await Explorer.load(model, images, labels);
  // The sample judge's figures per temperature, written by export-web (absent with
  // --no-judge): shown for the temperature on the slider.
  const judged = await fetch("judge.json").then((r) => (r.ok ? r.json() : null)).catch(() => null);
  // For scripts and tests: the model handle and the last interpolation's raw pixels.
  window.flowgpu = { explorer: ex, interpolation: null };
  const side = ex.side();
  const info = adapter.info || {};
  const named = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(" ");
  $("adapter").textContent = `${named ? named + ": " : ""}${ex.adapter()}; matmul kernels ${ex.kernels()}`;
  $("model").textContent = ex.description();
  const bpd = ex.test_bits_per_dim();
  $("bpd").textContent = bpd === undefined ? "not measured at export" : bpd.toFixed(4);

  const temperature = () => Number($("temperature").value);
  const seed = () => Math.max(0, Math.min(4294967295, Math.floor(Number($("seed").value) || 0)));

  // One redraw at a time; a change during a redraw asks for one more afterwards.
  let busy = false, again = false;
  async function redraw() {
    if (busy) { again = true; return; }
    busy = true;
    document.body.dataset.busy = "1";
    try {
      do {
        again = false;
        $("temperature-value").textContent = temperature().toFixed(2);
        const n = SAMPLE_GRID * SAMPLE_GRID;
        const px = await ex.samples(n, temperature(), seed());
        drawGrid($("samples"), px, n, SAMPLE_GRID, side);
        document.body.dataset.seed = String(seed());
        document.body.dataset.temperature = temperature().toFixed(2);
        showJudge(judged, temperature(), seed());
        if (document.body.dataset.state === "loading") {
          const ms = performance.now() - started;
          $("timing").textContent = `${(ms / 1000).toFixed(1)} s after the page started`;
          document.body.dataset.firstSamplesMs = String(Math.round(ms));
        }
        const stages = ex.stages();
        const lpx = await ex.layers(LAYER_ROWS, temperature(), seed());
        drawGrid($("layers"), lpx, LAYER_ROWS * stages, stages, side);
      } while (again);
    } finally {
      busy = false;
      document.body.dataset.busy = "0";
    }
  }

  // Column j > 0 shows the state after undoing coupling layer K - j + 1 (the last is x).
  const captions = ["z"];
  for (let l = ex.stages() - 1; l >= 2; l--) captions.push(`undo ${l}`);
  captions.push("x = undo 1");
  for (const c of captions) {
    const s = document.createElement("span");
    s.textContent = c;
    s.style.width = `${side * SCALE}px`;
    $("layer-captions").appendChild(s);
  }

  const count = ex.image_count();
  $("first").max = $("second").max = String(count - 1);
  let pickSecond = false;
  const gallery = [];
  for (let i = 0; i < Math.min(GALLERY, count); i++) {
    const c = document.createElement("canvas");
    const bytes = ex.image(i);
    drawGrid(c, Float32Array.from(bytes, (b) => b / 255), 1, 1, side);
    c.style.width = c.style.height = `${side * 2}px`;
    c.title = `test digit ${i} (label ${ex.label(i)})`;
    c.dataset.index = String(i);
    c.addEventListener("click", () => {
      $(pickSecond ? "second" : "first").value = String(i);
      pickSecond = !pickSecond;
      interpolate();
    });
    $("gallery").appendChild(c);
    gallery.push(c);
  }

  async function interpolate() {
    const clamp = (v) => Math.max(0, Math.min(count - 1, Math.floor(Number(v) || 0)));
    const i = clamp($("first").value), j = clamp($("second").value);
    gallery.forEach((c, k) => { c.classList.toggle("first", k === i); c.classList.toggle("second", k === j); });
    const px = await ex.interpolate(i, j, STEPS);
    // Originals first in the buffer; shown at both ends of the row.
    const d = side * side;
    const row = new Float32Array((STEPS + 2) * d);
    row.set(px.subarray(0, d), 0);
    row.set(px.subarray(2 * d), d);
    row.set(px.subarray(d, 2 * d), (STEPS + 1) * d);
    drawGrid($("interpolation"), row, STEPS + 2, STEPS + 2, side, [0, STEPS]);
    window.flowgpu.interpolation = { first: i, second: j, pixels: px, steps: STEPS, dim: d };
    const bpd = await ex.pair_bits_per_dim(i, j);
    $("pair-bpd").textContent =
      `Test digit ${i} (label ${ex.label(i)}): ${bpd[0].toFixed(3)} bits/dim; ` +
      `test digit ${j} (label ${ex.label(j)}): ${bpd[1].toFixed(3)} bits/dim ` +
      `(each dequantized at its pixels' bin centres).`;
    document.body.dataset.interpolation = `${i},${j}`;
  }

  const guard = (f) => () => f().catch((e) => fail(String(e)));
  $("temperature").addEventListener("input", guard(redraw));
  $("seed").addEventListener("change", guard(redraw));
  $("reseed").addEventListener("click", () => { $("seed").value = String(Math.floor(Math.random() * 1e6)); guard(redraw)(); });
  $("first").addEventListener("change", guard(interpolate));
  $("second").addEventListener("change", guard(interpolate));

  await redraw();
  await interpolate();
  $("status").textContent = "Ready. Move the temperature, change the seed, or pick two digits.";
  document.body.dataset.state = "ready";
}

main().catch((e) => fail(`flowgpu could not start: ${e}`));
