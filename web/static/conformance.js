// Runs the conformance fixtures in this browser; the verdicts go into the page and into
// window.conformance (for tests), and data-state becomes "ready" or "error".
import init, { run_conformance } from "./pkg/flowgpu_web.js";

const status = document.getElementById("status");

async function main() {
  if (!navigator.gpu) throw new Error("this browser offers no WebGPU (headless Chromium needs --enable-unsafe-webgpu)");
  await init();
  const r = await fetch("fixtures.json");
  if (!r.ok) throw new Error(`could not load fixtures.json: HTTP ${r.status}`);
  const started = performance.now();
  const result = JSON.parse(await run_conformance(await r.text()));
  result.seconds = (performance.now() - started) / 1000;
  window.conformance = result;
  const failed = result.reports.filter((x) => !x.passed);
  const lines = result.reports.map((x) => {
    if (x.failure) return `FAIL ${x.name}: ${x.failure}`;
    if (x.outputs.length === 0) return `${x.passed ? "ok  " : "FAIL"} ${x.name}`;
    const worst = x.outputs.reduce((a, b) => (b[1] / b[2] > a[1] / a[2] ? b : a));
    return `${x.passed ? "ok  " : "FAIL"} ${x.name}: ${worst[0]} error ${worst[1].toExponential(2)} (bound ${worst[2].toExponential(0)})`;
  });
  document.getElementById("results").textContent =
    `adapter: ${result.adapter}\nmatmul variants: ${result.kernels}\n\n${lines.join("\n")}`;
  status.textContent = `${result.reports.length - failed.length} of ${result.reports.length} passed in ${result.seconds.toFixed(1)} s`;
  document.body.dataset.state = "ready";
}

main().catch((e) => {
  window.conformance = { error: String(e) };
  status.textContent = String(e);
  document.body.dataset.state = "error";
  document.body.dataset.error = String(e);
});
