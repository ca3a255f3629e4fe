"""The HTML report opened in a real headless Chromium: it renders, logs no error, and shows every figure it should.

Chromium is started and driven as scripts/viz_screenshot.py does it (its ``start_chromium`` and ``DevTools``: a
loopback DevTools port, its own process group), and ended whole in a ``finally``.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import os
import shutil
import signal
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from promotion_cnn.local_processes import free_port, processes_with_env, stop
from promotion_cnn.model_lists import exported, load_model_lists

PROJECT = Path(__file__).resolve().parents[3]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium binary (chromium, chromium-browser or google-chrome on PATH; Debian: apt-get install chromium)",
)


def viz_script():
    """scripts/viz_screenshot.py, the project's one implementation of starting and driving headless Chromium."""
    pytest.importorskip("websockets", reason="driving Chromium over DevTools needs websockets (the test extra)")
    spec = importlib.util.spec_from_file_location("viz_screenshot", PROJECT / "scripts" / "viz_screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAGE = """(() => ({
    ready: document.readyState,
    title: document.title,
    h1: [...document.querySelectorAll('h1')].map(h => h.textContent.trim()),
    h2: [...document.querySelectorAll('h2')].map(h => h.textContent.trim()),
    h3: [...document.querySelectorAll('h3')].map(h => h.textContent.trim()),
    images: [...document.images].map(i => ({
        src: i.getAttribute('src'), alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
        caption: i.closest('figure')?.querySelector('figcaption')?.textContent ?? null,
    })),
    external: [...document.querySelectorAll('[src],[href]')].map(e => e.getAttribute('src') ?? e.getAttribute('href'))
        .filter(u => !u.startsWith('data:') && !u.startsWith('#')),
    tables: document.querySelectorAll('table').length,
    bodyWidth: document.body.getBoundingClientRect().width,
}))()"""
ALL_IMAGES_SETTLED = "[...document.images].every(i => i.complete)"  # decoded, or failed (then naturalWidth is 0)


async def open_report(viz, socket: str, url: str, timeout: float) -> tuple[dict[str, Any], list[dict]]:
    """Load the page with console and log events on; what the DOM shows, and every error event seen."""
    async with viz.DevTools(socket) as tools:
        for domain in ("Page", "Runtime", "Log"):
            await tools.call(f"{domain}.enable")
        await tools.call("Page.navigate", url=url)
        await tools.wait_until("document.readyState === 'complete'", timeout)
        await tools.wait_until(ALL_IMAGES_SETTLED, timeout)
        page = await tools.evaluate(PAGE)
        seen = len(tools.events)
        # a probe: an error logged by the page reaches this test (the check is not blind)
        await tools.evaluate("console.error('probe from the test'); true")
        await tools.evaluate("true")  # one more round trip: the probe's event has arrived
        probe = errors_in(tools.events[seen:])
        assert any("probe from the test" in str(event) for event in probe), "console errors are not captured"
        return page, errors_in(tools.events[:seen])


def errors_in(events: list[dict]) -> list[dict]:
    """Uncaught exceptions, console.error/assert calls, and browser log entries at error level (failed loads...)."""
    return [
        event
        for event in events
        if event["method"] == "Runtime.exceptionThrown"
        or (event["method"] == "Runtime.consoleAPICalled" and event["params"]["type"] in ("error", "assert"))
        or (event["method"] == "Log.entryAdded" and event["params"]["entry"]["level"] == "error")
    ]


def decode(uri: str) -> str:
    """The image format of a data URI, after checking that its bytes decode as that image."""
    header, _, payload = uri.partition(",")
    assert header.startswith("data:image/") and header.endswith(";base64"), header[:60]
    data = base64.b64decode(payload, validate=True)
    if header.startswith("data:image/svg+xml"):
        assert ET.fromstring(data).tag.endswith("svg")
        return "svg"
    assert header.startswith("data:image/png") and data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        image.verify()  # the whole file: chunks and checksums
    return "png"


def expected_figures(inputs: dict[str, Any]) -> dict[str, int]:
    """Figures the report must show, by caption (or its end), counted from the inputs it was built from."""
    families = [f for f in load_model_lists().families if exported("test_metrics", f) in inputs]
    cnns = [m for m in load_model_lists().image_models if inputs.get(exported("history", m)) is not None]
    variants = [f for f in load_model_lists().families if inputs.get(f"{f}.variant_scores") is not None]
    calibrated = [f for f in families if (inputs.get(f"{f}.calibration") or {}).get("brier_score") is not None]
    grids = [split for split in ("train", "val") if inputs.get(f"image_samples_{split}@image") is not None]
    eda = int(inputs.get("employees_validated") is not None)
    return {
        ": distribution of the target": eda,
        ": correlations with the target": eda,
        ": numeric attributes by the target": eda,
        ": categorical attributes": eda,
        "the selection metric per variant, the selected one highlighted": len(variants),
        "precision-recall with the chosen threshold": len(families),
        "confusion matrix on the test set": len(families),
        "ROC curve on the test set": len(families),
        "reliability diagram: observed promotion rate per score bin": len(calibrated),
        "training and validation accuracy and loss per epoch": len(cnns),
        ": sample images (train)": int("train" in grids),
        ": sample images (val)": int("val" in grids),
        "validation accuracy per epoch of every CNN": int(bool(cnns)),
        "validation confusion matrix": int(bool(cnns)),
    }


def test_report_renders_in_chromium_with_every_figure_and_no_error(
    complete, tabular_inputs, image_inputs, reporting, tmp_path
):
    viz = viz_script()
    report = tmp_path / "study_report.html"
    report.write_text(complete["study_report"], encoding="utf-8")
    marker = f"REPORT_CHROMIUM_TEST={uuid.uuid4().hex}"
    name, value = marker.split("=")
    env = {**os.environ, name: value}  # inherited by every process Chromium starts: found below if one is left
    browser = None
    try:
        port = free_port()
        browser = viz.start_chromium(CHROMIUM, tmp_path / "profile", port, env=env)
        socket = viz.page_websocket(port, 120, browser)
        page, errors = asyncio.run(open_report(viz, socket, report.as_uri(), 120))
    finally:
        stop(browser)
        left = processes_with_env(marker)
        for pid in left:  # after a failure to stop: end what the test started, then fail below
            os.kill(pid, signal.SIGKILL)
    assert left == {}, f"Chromium processes left after stop(): {left}"

    title = reporting["report"].title
    tasks = reporting["report"].tasks
    assert page["ready"] == "complete" and page["title"] == title and page["h1"] == [title]
    assert page["h2"] == ["Data shown", "Comparison", tasks["eda"].title, tasks["tabular"].title, tasks["image"].title]
    inputs = {**tabular_inputs, **image_inputs}
    families = [f for f in load_model_lists().families if exported("test_metrics", f) in inputs]
    cnns = [m for m in load_model_lists().image_models if exported("history", m) in inputs]
    assert {*families, "recommender", *cnns} <= set(page["h3"])
    assert errors == [], errors
    assert page["external"] == [], "the report must be self-contained"

    images = page["images"]
    undecoded = [image["caption"] or image["src"][:40] for image in images if not (image["width"] and image["height"])]
    assert undecoded == [], f"images Chromium could not decode: {undecoded}"
    assert {decode(image["src"]) for image in images} <= {"png", "svg"}
    assert all(image["alt"] and image["alt"] == image["caption"] for image in images)
    expected = expected_figures(inputs)
    found = {ending: sum(image["caption"].endswith(ending) for image in images) for ending in expected}
    assert found == expected
    assert len(images) == sum(expected.values())
