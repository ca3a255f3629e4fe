"""End-to-end check of kedro-viz in a real headless Chromium, and the screenshots for docs/.

    python scripts/viz_screenshot.py [--view project|tabular|all] [--out-dir docs/img]
    python scripts/viz_screenshot.py --view tabular --out /tmp/tabular.png
    python scripts/viz_screenshot.py --pipeline reporting --out /tmp/reporting.png

It serves this project with ``kedro viz run``, opens the page in headless Chromium
(Debian's ``chromium`` package, or ``--chromium PATH``) driven over the DevTools
protocol, and for each view waits until the app has fetched the graph and drawn it,
checks that the drawn graph shows what the view should show, and saves a PNG in which
the node labels can be read. It exits non-zero if any step fails.

Views (``VIEWS``): ``project``, the whole project (``__default__``) with every namespace
collapsed and only the nodes shown (docs/img/kedro-viz-project.png); ``tabular``, the
``tabular_modelling`` pipeline with the ``random_forest`` namespace expanded (clicked
open in the graph) and the other namespaces collapsed, cropped around that namespace
(docs/img/kedro-viz-tabular.png); ``--pipeline NAME``, one more pipeline, collapsed,
nodes and datasets. Each view is drawn, fitted by kedro-viz, then, if its labels are
smaller than ``LABEL_PX`` device pixels, drawn again in a viewport large enough for them
(rather than at a smaller zoom); a view whose labels stay smaller fails.

Needs ``websockets`` (installed with kedro-viz's uvicorn). Both servers listen on
127.0.0.1 ports picked in 1024-49151 (kedro-viz refuses higher ones) and run in their own process groups,
which are ended (every child included) when the script ends, whether it succeeded or not.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

import websockets

from promotion_cnn.local_processes import free_port, start, stop

PROJECT = Path(__file__).resolve().parents[1]
# Preferences kedro-viz keeps in localStorage: no feature tour, light theme, namespaces collapsed, raw node names,
# no minimap over the graph.
PREFERENCES = {
    "theme": "light",
    "showFeatureHints": False,
    "expandAllPipelines": False,
    "isPrettyName": False,
    "visible": {"code": False, "graph": True, "miniMap": False, "sidebar": True, "slicing": True, "traceback": False},
}
DEVICE_SCALE = 2  # device pixels per CSS pixel: sharp text in a PNG of a given zoom
VIEWPORT = (1600, 1000)  # CSS pixels of the first drawing, before it is enlarged for readable labels
LABEL_PX = 12  # node labels drawn at least this tall (font size in device pixels)
MIN_LABEL_PX = 11  # ... and a view fails below this
MAX_VIEWPORT = 7000  # CSS pixels per side: a graph that needs more cannot be drawn readable in one PNG


class View(NamedTuple):
    """What one screenshot shows (a NamedTuple: the tests load this script without registering it as a module)."""

    pipeline: str
    data: bool = True  # datasets drawn (parameters never are), or only the tasks and namespaces
    expand: str = ""  # a namespace clicked open; the PNG is then cropped around it and the collapsed namespaces
    file: str = ""  # PNG name under --out-dir


VIEWS = {
    "project": View("__default__", data=False, file="kedro-viz-project.png"),
    "tabular": View("tabular_modelling", expand="random_forest", file="kedro-viz-tabular.png"),
}


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


def expected_nodes(graph: dict, view: View) -> dict[str, str]:
    """The graph elements the view must draw, ``data-id -> name``: every task and namespace at the top level of
    the pipeline (``/api/pipelines/<name>``), and inside the expanded namespace its tasks and nested namespaces."""
    names = {node["id"]: node["name"] for node in graph["nodes"]}
    tree = graph["modular_pipelines"]
    if view.expand and view.expand not in tree:
        raise AssertionError(f"pipeline {view.pipeline} has no namespace {view.expand!r}")
    expected = {}
    for parent in ("__root__", view.expand) if view.expand else ("__root__",):
        for child in tree[parent]["children"]:
            if child["type"] == "task":
                expected[child["id"]] = names[child["id"]]
            elif child["type"] == "modularPipeline" and child["id"] != view.expand:
                expected[child["id"]] = child["id"]
    return expected


class DevTools:
    """The few Chrome DevTools protocol calls this check needs."""

    def __init__(self, socket_url: str):
        self._url, self._id = socket_url, 0
        self.events: list[dict] = []  # the events received while waiting for answers (after Runtime.enable, ...)

    async def __aenter__(self) -> DevTools:
        self._ws = await websockets.connect(self._url, max_size=256 * 2**20)
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

    async def evaluate(self, expression: str, check: bool = False):
        """The expression's value; a JavaScript exception gives None, or raises with ``check``."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if check and "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}...: {result['exceptionDetails'].get('exception', {})}")
        return result["result"].get("value")

    async def wait_until(self, expression: str, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.5)
        raise TimeoutError(f"page never satisfied: {expression}")

    async def settle(self, timeout: float, quiet: float = 1.5) -> None:
        """Wait until the drawing stops changing (zoom and node count the same for ``quiet`` seconds)."""
        deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
        while time.monotonic() < deadline:
            now = await self.evaluate(STATE_JS)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            await asyncio.sleep(0.25)
        raise TimeoutError("the drawing never settled")


# The zoom of the drawn graph and how many nodes it shows (the settle() probe).
STATE_JS = """(() => { const z = document.querySelector('.pipeline-zoom-wrapper');
  return (z && z.getAttribute('transform')) + ' ' + document.querySelectorAll('g.pipeline-node').length; })()"""
# What the drawn graph shows: its nodes (data-id, type, label, box in CSS pixels), the zoom scale, the label font
# size, the width the sidebar covers.
DRAWING_JS = """(() => {
  const zoom = document.querySelector('.pipeline-zoom-wrapper').getAttribute('transform');
  const nodes = [...document.querySelectorAll('g.pipeline-node')].map(g => { const r = g.getBoundingClientRect();
    return {id: g.dataset.id, type: g.dataset.nodeType, label: g.textContent, box: [r.left, r.top, r.right, r.bottom]}; });
  const label = document.querySelector('g.pipeline-node text');
  const sidebar = document.querySelector('.pipeline-sidebar');
  return {scale: +zoom.match(/scale\\(([^)]+)\\)/)[1], nodes,
          font: label ? parseFloat(getComputedStyle(label).fontSize) : 0,
          sidebar: sidebar ? sidebar.getBoundingClientRect().right : 0}; })()"""
DISMISS_JS = """[...document.querySelectorAll('button')]
  .filter(b => /^(Dismiss|Got it|Close)$/i.test(b.textContent.trim())).forEach(b => b.click()); true"""


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


def bounds(boxes: list[list[float]]) -> list[float]:
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


async def set_viewport(tools: DevTools, width: int, height: int) -> None:
    await tools.call(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=height,
        deviceScaleFactor=DEVICE_SCALE,
        mobile=False,
    )


async def readable_drawing(tools: DevTools, timeout: float) -> tuple[dict, tuple[int, int]]:
    """Enlarge the viewport until kedro-viz's zoom-to-fit draws the labels at least ``LABEL_PX`` tall."""
    width, height = VIEWPORT
    for _ in range(3):
        drawing = await tools.evaluate(DRAWING_JS, check=True)
        if drawing["font"] * drawing["scale"] * DEVICE_SCALE >= LABEL_PX * 0.97:
            break
        # the graph's own size (CSS pixels at zoom 1), then a viewport that holds it at the wanted zoom
        left, top, right, bottom = bounds([n["box"] for n in drawing["nodes"]])
        grow = LABEL_PX / (drawing["font"] * DEVICE_SCALE) / drawing["scale"]
        width = max(width, math.ceil(drawing["sidebar"] + (right - left) * grow * 1.08 + 80))
        height = max(height, math.ceil((bottom - top) * grow * 1.12 + 80))
        if max(width, height) > MAX_VIEWPORT:
            raise AssertionError(f"readable labels need a {width}x{height} viewport (over {MAX_VIEWPORT})")
        await set_viewport(tools, width, height)
        await tools.settle(timeout)
    else:
        drawing = await tools.evaluate(DRAWING_JS, check=True)
    return drawing, (width, height)


def compress(png: bytes, out: Path) -> None:
    """Write the screenshot as a 64-colour palette PNG: a quarter of the bytes, the same picture (flat UI colours and
    grey anti-aliasing)."""
    from PIL import Image  # Pillow, installed with matplotlib

    with Image.open(io.BytesIO(png)) as image:
        palette = image.convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        out.parent.mkdir(parents=True, exist_ok=True)
        palette.save(out, optimize=True)


async def capture(page_socket: str, base_url: str, graph: dict, view: View, out: Path, timeout: float) -> dict:
    """Load the app with its preferences set, draw the view, check it, and screenshot it."""
    async with DevTools(page_socket) as tools:
        await tools.call("Page.enable")
        await set_viewport(tools, *VIEWPORT)
        # before the app's own scripts run, so that it starts with these preferences (and the types shown, which
        # kedro-viz also keeps there); the token tells the new page from the one it replaces
        token = f"{view.pipeline}-{time.monotonic_ns()}"
        preferences = {
            **PREFERENCES,
            "nodeType": {"disabled": {"parameters": True, "task": False, "data": not view.data}},
        }
        script = await tools.call(
            "Page.addScriptToEvaluateOnNewDocument",
            source=f"localStorage.setItem('KedroViz', JSON.stringify({json.dumps(preferences)}));"
            f" window.vizScreenshot = {json.dumps(token)};",
        )
        types = "nodes,datasets" if view.data else "nodes"
        await tools.call("Page.navigate", url=f"{base_url}/?pid={view.pipeline}&types={types}")
        await tools.wait_until(
            f"window.vizScreenshot === {json.dumps(token)} && document.querySelectorAll('g.pipeline-node').length",
            timeout,
        )
        await tools.settle(timeout)  # the layout drawn and the zoom-to-fit animation ended
        await tools.evaluate(DISMISS_JS)
        if view.expand:
            clicked = await tools.evaluate(
                f"""(() => {{ const g = document.querySelector(
                  'g.pipeline-node[data-node-type=modularPipeline][data-id={json.dumps(view.expand)}]');
                  if (!g) return false; g.dispatchEvent(new MouseEvent('click', {{bubbles: true}})); return true; }})()""",
                check=True,
            )
            if not clicked:
                raise AssertionError(f"no collapsed namespace {view.expand} drawn to click")
            await tools.settle(timeout)
        drawing, viewport = await readable_drawing(tools, timeout)

        drawn = {n["id"]: n for n in drawing["nodes"]}
        expected = expected_nodes(graph, view)
        missing = sorted(name for node_id, name in expected.items() if node_id not in drawn)
        if missing:
            raise AssertionError(f"the drawn graph of {view.pipeline} lacks {len(missing)} node(s): {missing[:10]}")
        if view.expand in drawn:
            raise AssertionError(f"namespace {view.expand} is still drawn collapsed after the click")
        label_px = drawing["font"] * drawing["scale"] * DEVICE_SCALE
        if label_px < MIN_LABEL_PX:
            raise AssertionError(f"labels drawn {label_px:.1f} px tall (under {MIN_LABEL_PX})")

        clip = {"x": 0, "y": 0, "width": viewport[0], "height": viewport[1]}
        if view.expand:  # the expanded namespace with its outputs, and the collapsed namespaces
            namespace = graph["modular_pipelines"][view.expand]
            members = {child["id"] for child in namespace["children"]} | set(namespace["outputs"])
            shown = [n["box"] for n in drawing["nodes"] if n["id"] in members or n["type"] == "modularPipeline"]
            left, top, right, bottom = bounds(shown)
            margin = 40
            left, top = max(left - margin, drawing["sidebar"]), max(top - margin, 0)
            right, bottom = min(right + margin, viewport[0]), min(bottom + margin, viewport[1])
            clip = {"x": left, "y": top, "width": right - left, "height": bottom - top}
        shot = await tools.call("Page.captureScreenshot", format="png", clip={**clip, "scale": 1})
        await tools.call("Page.removeScriptToEvaluateOnNewDocument", identifier=script["identifier"])
        compress(base64.b64decode(shot["data"]), out)
        return {
            "drawn_nodes": len(drawn),
            "checked": len(expected),
            "label_px": label_px,
            "size": (round(clip["width"] * DEVICE_SCALE), round(clip["height"] * DEVICE_SCALE)),
            "bytes": out.stat().st_size,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--view", choices=[*VIEWS, "all"], default="all", help="which screenshot(s) (default all)")
    parser.add_argument("--pipeline", help="instead of --view: this pipeline, namespaces collapsed")
    parser.add_argument("--out", type=Path, help="the PNG of a single view (--view project|tabular, or --pipeline)")
    parser.add_argument("--out-dir", type=Path, default=PROJECT / "docs" / "img", help="folder of the views' PNGs")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    parser.add_argument("--timeout", type=float, default=120, help="seconds for each wait")
    args = parser.parse_args()
    if args.pipeline:
        views = {args.pipeline: (View(args.pipeline), args.out or args.out_dir / f"kedro-viz-{args.pipeline}.png")}
    elif args.view == "all":
        if args.out:
            parser.error("--out names one PNG: give --view project or --view tabular, or use --out-dir")
        views = {name: (view, args.out_dir / view.file) for name, view in VIEWS.items()}
    else:
        view = VIEWS[args.view]
        views = {args.view: (view, args.out or args.out_dir / view.file)}
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
            base_url = f"http://127.0.0.1:{viz_port}"
            main_graph = json.loads(wait_for(f"{base_url}/api/main", args.timeout, viz))
            pipelines = [p["id"] for p in main_graph["pipelines"]]
            print(f"kedro viz serves {len(main_graph['nodes'])} nodes; pipelines: {', '.join(pipelines)}")
            browser = start_chromium(args.chromium, profile, devtools_port)
            page = page_websocket(devtools_port, args.timeout, browser)
            for name, (view, out) in views.items():
                if view.pipeline not in pipelines:
                    raise AssertionError(f"kedro viz serves no pipeline {view.pipeline!r}")
                graph = json.loads(wait_for(f"{base_url}/api/pipelines/{view.pipeline}", args.timeout, viz))
                result = asyncio.run(capture(page, base_url, graph, view, out, args.timeout))
                width, height = result["size"]
                print(
                    f"{name}: Chromium drew {result['drawn_nodes']} graph nodes ({result['checked']} checked),"
                    f" labels {result['label_px']:.1f} px;"
                    f" screenshot {out} ({width}x{height}, {result['bytes']:,} bytes)"
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
