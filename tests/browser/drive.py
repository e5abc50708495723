#!/usr/bin/env python3
"""Drives headless Chromium (Debian's, through Playwright) over a site that `flowgpu
export-web` wrote: the kernel conformance page and the explorer page. Serves the site on
127.0.0.1 only. Prints one JSON object and exits non-zero when a check fails.

    python3 tests/browser/drive.py --site DIR --screenshot page.png [--chromium /usr/bin/chromium]
"""
import argparse
import functools
import http.server
import json
import math
import re
import sys
import threading
import time

from playwright.sync_api import sync_playwright

ARGS = ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu"]


def serve(site):
    handler = functools.partial(QuietHandler, directory=site)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript"}

    def log_message(self, *args):
        pass


def wait_state(page, timeout_s):
    page.wait_for_function(
        "() => ['ready', 'error'].includes(document.body.dataset.state)",
        timeout=timeout_s * 1000)
    return page.evaluate("() => [document.body.dataset.state, document.body.dataset.error || '']")


def wait_idle(page, timeout_s):
    page.wait_for_function("() => document.body.dataset.busy === '0'", timeout=timeout_s * 1000)


def samples_png(page):
    return page.evaluate("() => document.getElementById('samples').toDataURL()")


def check_page(page, base, screenshot, timeout_s, out):
    t0 = time.time()
    page.goto(base + "index.html")
    state, error = wait_state(page, timeout_s)
    out["page_ready_s"] = round(time.time() - t0, 2)
    out["first_samples_ms"] = page.evaluate("() => Number(document.body.dataset.firstSamplesMs || -1)")
    out["adapter"] = page.inner_text("#adapter")
    out["bits_per_dim"] = page.inner_text("#bpd")
    if state != "ready":
        out["failures"].append(f"page: data-state={state}: {error}")
        page.screenshot(path=screenshot, full_page=True)
        return
    wait_idle(page, timeout_s)
    first = samples_png(page)

    def set_and_wait(selector, value, event):
        page.eval_on_selector(selector, f"(e) => {{ e.value = '{value}'; e.dispatchEvent(new Event('{event}')); }}")
        # The handler starts the redraw synchronously (busy = 1) before the event returns.
        wait_idle(page, timeout_s)

    set_and_wait("#temperature", "1.2", "input")
    hotter = samples_png(page)
    set_and_wait("#seed", "2", "change")
    reseeded = samples_png(page)
    set_and_wait("#temperature", "0.7", "input")
    set_and_wait("#seed", "1", "change")
    again = samples_png(page)
    judge_text = page.inner_text("#judge")
    out["judge"] = judge_text
    checks = {
        "the sample judge's figures show for T = 0.70":
            "Sample judge at T = 0.70" in judge_text and "digit-like" in judge_text,
        "temperature changes the samples": hotter != first,
        "seed changes the samples": reseeded != hotter,
        "same seed and temperature give the same samples": again == first,
    }
    # The interpolation's end points decode z1 and z2: they must reproduce the originals.
    interp = page.evaluate("""() => {
        const it = window.flowgpu.interpolation, d = it.dim, px = it.pixels, s = it.steps;
        let e1 = 0, e2 = 0;
        for (let p = 0; p < d; p++) {
            e1 = Math.max(e1, Math.abs(px[2 * d + p] - px[p]));
            e2 = Math.max(e2, Math.abs(px[(2 + s - 1) * d + p] - px[d + p]));
        }
        return { first: it.first, second: it.second, end_errors: [e1, e2] };
    }""")
    out["interpolation"] = interp
    checks["interpolation ends reproduce the originals (max pixel error < 1e-3)"] = max(interp["end_errors"]) < 1e-3
    # Clicking two gallery digits picks a new pair.
    page.click("#gallery canvas[data-index='3']")
    page.click("#gallery canvas[data-index='5']")
    page.wait_for_function("() => document.body.dataset.interpolation === '3,5'", timeout=timeout_s * 1000)
    checks["clicking two test digits interpolates between them"] = True
    pair = page.inner_text("#pair-bpd")
    values = [float(v) for v in re.findall(r"([0-9]+\.[0-9]+) bits/dim", pair)]
    out["pair_bits_per_dim"] = values
    checks["the chosen digits' bits/dim are shown"] = (
        len(values) == 2 and all(math.isfinite(v) and v > 0 for v in values))
    out["checks"] = checks
    for name, ok in checks.items():
        if not ok:
            out["failures"].append(f"page: {name}")
    page.screenshot(path=screenshot, full_page=True)


def check_conformance(page, base, timeout_s, out):
    t0 = time.time()
    page.goto(base + "conformance.html")
    state, error = wait_state(page, timeout_s)
    out["conformance_s"] = round(time.time() - t0, 2)
    if state != "ready":
        out["failures"].append(f"conformance: data-state={state}: {error}")
        return
    result = page.evaluate("() => window.conformance")
    out["conformance_adapter"] = result["adapter"]
    out["conformance_matmul_variants"] = result["kernels"]
    reports = result["reports"]
    out["conformance"] = [
        {"name": r["name"], "check": r["check"], "passed": r["passed"], "failure": r["failure"],
         "worst": max(r["outputs"], key=lambda o: o[1] / o[2]) if r["outputs"] else None,
         "kernels": r["kernels"]}
        for r in reports]
    for r in reports:
        if not r["passed"]:
            out["failures"].append(f"conformance: {r['name']}: {r['failure'] or r['outputs']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", required=True)
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per page")
    ap.add_argument("--skip-page", action="store_true")
    ap.add_argument("--skip-conformance", action="store_true")
    a = ap.parse_args()
    server = serve(a.site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    out = {"failures": [], "console_errors": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=a.chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: m.type == "error" and out["console_errors"].append(m.text))
        page.on("pageerror", lambda e: out["console_errors"].append(str(e)))
        try:
            if not a.skip_conformance:
                check_conformance(page, base, a.timeout, out)
            if not a.skip_page:
                check_page(page, base, a.screenshot, a.timeout, out)
        except Exception as e:  # a timeout or a crash is a failure with its message
            out["failures"].append(f"{type(e).__name__}: {e}")
        finally:
            browser.close()
            server.shutdown()
    print(json.dumps(out, indent=1))
    sys.exit(1 if out["failures"] else 0)


if __name__ == "__main__":
    main()
