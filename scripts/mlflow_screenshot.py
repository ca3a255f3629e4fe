"""Screenshot of the MLflow UI comparing the latest run's random-forest and SVM variants, for docs/img.

    python scripts/mlflow_screenshot.py [--out docs/img/mlflow-compare.png] [--chromium PATH]

Starts ``mlflow ui`` on the project's store (``mlflow.db``) on a free port of 127.0.0.1 in its own process group,
opens the compare view of the latest ``tabular_modelling``/``__default__`` run's variant runs in headless Chromium
(Debian's ``chromium``), saves the PNG, and stops the server's process group. Exits non-zero if a step fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from promotion_cnn.local_processes import free_port, stop

PROJECT = Path(__file__).resolve().parents[1]
logger = logging.getLogger("mlflow_screenshot")


def variant_runs(tracking_uri: str) -> tuple[str, list[str]]:
    """The experiment id and the random_forest/svm variant runs of the latest tabular run."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("promotion_cnn")
    runs = client.search_runs(
        [experiment.experiment_id], "attributes.status = 'FINISHED'", order_by=["attributes.start_time DESC"]
    )
    parent = next(r for r in runs if r.info.run_name in ("tabular_modelling", "__default__"))
    families = {
        r.info.run_name: r.info.run_id for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }
    chosen = [
        r.info.run_id
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") in {families.get("random_forest"), families.get("svm")}
    ]
    if not chosen:
        raise RuntimeError("no random_forest/svm variant runs: run `kedro run --pipelines tabular_modelling` first")
    return experiment.experiment_id, chosen


def _viz_tools():
    """The DevTools helpers of scripts/viz_screenshot.py (one implementation of the protocol calls)."""
    spec = importlib.util.spec_from_file_location("viz_screenshot", PROJECT / "scripts" / "viz_screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def screenshot(chromium: str, profile: Path, url: str, out: Path, timeout: float = 240) -> None:
    """Open ``url`` in headless Chromium, wait until the compare table shows the variant runs, save a PNG."""
    viz = _viz_tools()
    port = free_port()
    browser = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--hide-scrollbars", f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        targets = json.loads(viz.wait_for(f"http://127.0.0.1:{port}/json/list", timeout, browser))
        page = next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"]

        async def capture() -> None:
            async with viz.DevTools(page) as tools:
                await tools.call("Page.enable")
                await tools.call(
                    "Emulation.setDeviceMetricsOverride", width=1600, height=1100, deviceScaleFactor=1, mobile=False
                )
                await tools.call("Page.navigate", url=url)
                await tools.wait_until("document.body.innerText.includes('random_forest/')", timeout)
                await tools.wait_until("document.body.innerText.includes('cv_f1')", timeout)
                await tools.evaluate(  # close the assistant side panel: the runs get the whole width
                    "[...document.querySelectorAll('button')].filter(b => /close/i.test(b.getAttribute('aria-label')"
                    " || '')).forEach(b => b.click()); true"
                )
                with contextlib.suppress(TimeoutError):  # the parallel-coordinates plot, if it draws in time
                    await tools.wait_until("document.querySelectorAll('.js-plotly-plot, svg.main-svg').length", 90)
                await asyncio.sleep(3)
                shot = await tools.call("Page.captureScreenshot", format="png")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(base64.b64decode(shot["data"]))

        asyncio.run(capture())
    finally:
        stop(browser)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=PROJECT / "docs" / "img" / "mlflow-compare.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    tracking_uri = f"sqlite:///{PROJECT}/mlflow.db"
    experiment, runs = variant_runs(tracking_uri)
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(
        command, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlflow ui did not start") from None
                time.sleep(0.5)
        query = urllib.parse.urlencode({"runs": json.dumps(runs), "experiments": json.dumps([experiment])})
        url = f"http://127.0.0.1:{port}/#/compare-runs?{query}"
        with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
            screenshot(args.chromium, Path(profile), url, args.out)
        logger.info("Saved %s (%d runs compared)", args.out, len(runs))
    finally:
        stop(server)  # gunicorn/uvicorn workers included: the whole group


if __name__ == "__main__":
    main()
