"""End-to-end check of kedro-viz in a real headless Chromium, and the screenshot for docs/.

    python scripts/viz_screenshot.py [--out docs/img/kedro-viz.png] [--pipeline reporting]

It serves this project with ``kedro viz run``, opens the page in headless Chromium
(Debian's ``chromium`` package, or ``--chromium PATH``) driven over the DevTools
protocol, waits until the app has fetched the graph and drawn it, checks that the
drawn graph shows the expected nodes, and saves a PNG screenshot. It exits non-zero
if any step fails. Needs ``websockets`` (installed with kedro-viz's uvicorn). Both servers listen on
127.0.0.1 ports picked in 1024-49151 (kedro-viz refuses higher ones) and run in their own process groups,
which are ended (every child included) when the script ends, whether it succeeded or not.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets

from promotion_cnn.local_processes import free_port, start, stop

PROJECT = Path(__file__).resolve().parents[1]
# Shown in the drawn graph of every pipeline view that includes the report (pretty names are off).
EXPECTED_LABELS = ("render_report", "study_report")
# Preferences kedro-viz keeps in localStorage: no feature tour, light theme, namespaces collapsed.
PREFERENCES = {"theme": "light", "showFeatureHints": False, "expandAllPipelines": False, "isPrettyName": False}


# kedro-viz refuses ports above 49151 (the OS assigns ephemeral ports from 32768 or 49152 up): pick in this range


def wait_for(url: str, timeout: float, process: subprocess.Popen | None = None) -> bytes:
    """GET ``url`` until it answers (or the process dies, or the time is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f}s")


class DevTools:
    """The few Chrome DevTools protocol calls this check needs."""

    def __init__(self, socket_url: str):
        self._url, self._id = socket_url, 0
        self.events: list[dict] = []  # the events received while waiting for answers (after Runtime.enable, ...)

    async def __aenter__(self) -> DevTools:
        self._ws = await websockets.connect(self._url, max_size=64 * 2**20)
        return self

    async def __aexit__(self, *exc) -> None:
        await self._ws.close()

    async def call(self, method: str, **params) -> dict:
        self._id += 1
        await self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(await self._ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            if "method" in message:
                self.events.append(message)

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    async def wait_until(self, expression: str, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.5)
        raise TimeoutError(f"page never satisfied: {expression}")


def start_chromium(
    chromium: str, profile: Path, devtools_port: int, url: str = "about:blank", env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Headless Chromium driven over the DevTools protocol on a loopback port, in its own process group
    (end it with ``local_processes.stop``)."""
    return start(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={devtools_port}",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def page_websocket(devtools_port: int, timeout: float, browser: subprocess.Popen) -> str:
    """The DevTools WebSocket of the browser's first page, once it answers."""
    targets = json.loads(wait_for(f"http://127.0.0.1:{devtools_port}/json/list", timeout, browser))
    return next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"]


async def capture(page_socket: str, url: str, out: Path, timeout: float) -> dict:
    """Load the app with its preferences set, wait for the graph, check it, and screenshot it."""
    async with DevTools(page_socket) as tools:
        await tools.call("Page.enable")
        await tools.call(
            "Emulation.setDeviceMetricsOverride", width=1600, height=1000, deviceScaleFactor=1, mobile=False
        )
        # before the app's own scripts run, so that it starts with these preferences
        await tools.call(
            "Page.addScriptToEvaluateOnNewDocument",
            source=f"localStorage.setItem('KedroViz', JSON.stringify({json.dumps(PREFERENCES)}));",
        )
        await tools.call("Page.navigate", url=url)
        drawn = await tools.wait_until("document.querySelectorAll('g.pipeline-node').length", timeout)
        await asyncio.sleep(2)  # let the layout settle and the zoom-to-fit animation end
        await tools.evaluate("""[...document.querySelectorAll('button')]
            .filter(b => /^(Dismiss|Got it|Close)$/i.test(b.textContent.trim())).forEach(b => b.click()); true""")
        text = await tools.evaluate(
            "[...document.querySelectorAll('g.pipeline-node')].map(g => g.textContent).join(' ')"
        )
        missing = [label for label in EXPECTED_LABELS if label not in text]
        if missing:
            raise AssertionError(f"the drawn graph lacks {missing}")
        await asyncio.sleep(1)
        shot = await tools.call("Page.captureScreenshot", format="png")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(shot["data"]))
        return {"drawn_nodes": drawn, "bytes": out.stat().st_size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT / "docs" / "img" / "kedro-viz.png")
    parser.add_argument("--pipeline", default="__default__", help="pipeline shown in the screenshot")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    parser.add_argument("--timeout", type=float, default=120, help="seconds for each wait")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a terminated script still stops its servers (finally)
    if not args.chromium:
        sys.exit("chromium not found: apt-get install -y chromium, or pass --chromium PATH")

    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    viz_port = free_port()
    devtools_port = free_port(exclude=(viz_port,))
    with tempfile.TemporaryDirectory() as work:
        log = Path(work) / "viz.log"
        profile = Path(work) / "profile"
        with log.open("w") as log_file:
            viz = start(
                ["kedro", "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(viz_port)],
                cwd=PROJECT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        browser = None
        try:
            graph = json.loads(wait_for(f"http://127.0.0.1:{viz_port}/api/main", args.timeout, viz))
            pipelines = [p["id"] for p in graph["pipelines"]]
            print(f"kedro viz serves {len(graph['nodes'])} nodes; pipelines: {', '.join(pipelines)}")
            browser = start_chromium(args.chromium, profile, devtools_port)
            page = page_websocket(devtools_port, args.timeout, browser)
            url = f"http://127.0.0.1:{viz_port}/?pid={args.pipeline}"
            result = asyncio.run(capture(page, url, args.out, args.timeout))
            print(
                f"Chromium drew {result['drawn_nodes']} graph nodes; screenshot {args.out} ({result['bytes']:,} bytes)"
            )
        except Exception:
            print("kedro viz log (tail):\n" + "\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
            raise
        finally:
            stop(browser)
            stop(viz)
    return 0


if __name__ == "__main__":
    sys.exit(main())
