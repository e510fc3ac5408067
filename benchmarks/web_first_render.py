"""First render of the course player, measured in headless Chromium against a local Lyceum.

For each run a fresh browser context (cold cache) opens a lesson in the course player signed in as the demo
learner, and the page itself records ``performance.now()`` when the lesson text, the pathway and the tutor
panel are all on screen. The baseline, in the same run, is the sign-in page (the same HTML and JavaScript,
no API calls), so the ratio shows what the player's data loading adds. Warm runs reuse the context (assets
cached, as on a second visit). Also prints the initial JavaScript size reported by the build.

Uses DATABASE_URL / REDIS_URL when set, else embedded servers. Run: `uv run python benchmarks/web_first_render.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, sync_playwright

from app.server.embedded import free_port
from benchmarks.stack import BenchStack, start_stack, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
# Records when every selector is in the DOM with content; written before the app's own scripts run.
WATCH = """
window.__renderedAt = null;
const wanted = %s;
const check = () => {
  if (window.__renderedAt === null && wanted.every((s) => { const el = document.querySelector(s);
      return el && el.textContent.trim().length > 0; })) {
    window.__renderedAt = performance.now();
  }
};
new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
"""
PLAYER = ["article.item .markdown", "nav.pathway li", "aside.chat .chat-head"]
LOGIN = ["form.login-card h1"]


def _start() -> tuple[BenchStack, subprocess.Popen[bytes], str]:
    # The benchmark signs in once per browser context: far more often than the login limits allow.
    limits = {f"LYCEUM_RATE_LIMIT_LOGIN_{scope}": "100000/60s" for scope in ("USER", "ORG", "GLOBAL")}
    bench = asyncio.run(start_stack("web", **limits))
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--port", str(port)]
    api = subprocess.Popen([*command, "--log-level", "warning"], env=bench.env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    return bench, api, url


def _tokens(url: str) -> dict[str, Any]:
    body = {"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"}
    tokens: dict[str, Any] = httpx.post(f"{url}/v1/auth/login", json=body).json()
    return tokens


def _lesson_path(url: str) -> str:
    headers = {"Authorization": f"Bearer {_tokens(url)['access_token']}"}
    courses = httpx.get(f"{url}/v1/courses", headers=headers, params={"q": "Backend"}).json()["items"]
    course = next(c for c in courses if c["slug"] == "backend-foundations")
    httpx.post(f"{url}/v1/courses/{course['id']}/enrollments", headers=headers)
    detail = httpx.get(f"{url}/v1/courses/{course['id']}", headers=headers).json()
    return f"/courses/{course['id']}/items/{detail['modules'][0]['items'][0]['id']}"


def _render_ms(
    browser: Browser, url: str, path: str, selectors: list[str], *, signed_in: bool, warm: int
) -> list[float]:
    """Cold: a new context per visit. Warm: ``warm`` extra visits in the same context (cached assets)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    if signed_in:
        tokens = _tokens(url)  # refresh tokens rotate: every context signs in afresh
        stored = json.dumps({"refreshToken": tokens["refresh_token"], "org": "demo"})
        # Only once: the app rotates the refresh token, and replaying a rotated one revokes the session.
        key = "'lyceum.session'"
        context.add_init_script(f"if (!localStorage.getItem({key})) localStorage.setItem({key}, {json.dumps(stored)});")
    context.add_init_script(WATCH % json.dumps(selectors))
    page = context.new_page()
    timings = []
    for _ in range(1 + warm):
        page.goto(url + path)
        page.wait_for_function("window.__renderedAt !== null", timeout=30_000)
        timings.append(float(page.evaluate("window.__renderedAt")))
    context.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--chromium", default=os.environ.get("LYCEUM_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    if not (ROOT / "frontend" / "dist" / "index.html").is_file():
        sys.exit("build the web app first: make frontend")
    bench, api, url = _start()
    try:
        path = _lesson_path(url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=FLAGS, headless=True)
            _render_ms(browser, url, path, PLAYER, signed_in=True, warm=0)  # warm the server's caches once
            cold_player, cold_login, warm_player = [], [], []
            for _ in range(args.runs):  # interleaved, so machine noise hits both alike
                cold_login += _render_ms(browser, url, "/login", LOGIN, signed_in=False, warm=0)
                runs = _render_ms(browser, url, path, PLAYER, signed_in=True, warm=2)
                cold_player.append(runs[0])
                warm_player += runs[1:]
            browser.close()
    finally:
        api.terminate()
        api.wait(timeout=15)
        bench.stop()

    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    report = ROOT / "frontend" / "dist" / "bundle-size.json"  # written by `npm run build`
    if report.is_file():
        size = json.loads(report.read_text())["initialGzipBytes"] / 1024
        print(f"initial JavaScript: {size:.1f} KB gzipped (budget 150 KB)")
    print(f"{'page':<28}{'p50 ms':>10}{'p95 ms':>10}")
    for name, values in (
        ("sign-in page (baseline)", cold_login),
        ("course player, cold cache", cold_player),
        ("course player, warm cache", warm_player),
    ):
        print(f"{name:<28}{statistics.median(values):>10.0f}{p(values, 0.95):>10.0f}")
    ratio = statistics.median(cold_player) / statistics.median(cold_login)
    print(f"player / baseline (cold, p50): {ratio:.2f}   goal: first render <= 1000 ms")


if __name__ == "__main__":
    main()
