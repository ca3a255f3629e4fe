"""kedro-viz: build the static site of this project and check the graph data it serves."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from promotion_cnn.local_processes import processes_with_env
from promotion_cnn.model_lists import load_model_lists

PROJECT = Path(__file__).resolve().parents[1]
PIPELINES = {"__default__", "data_processing", "tabular_modelling", "image_modelling", "reporting"}


@pytest.fixture(scope="module")
def viz_build(tmp_path_factory) -> Path:
    """``kedro viz build`` run in a copy of the project (code and configuration, no data) in a temporary folder."""
    project = tmp_path_factory.mktemp("project")
    shutil.copy(PROJECT / "pyproject.toml", project)
    shutil.copytree(PROJECT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT / "conf", project / "conf", ignore=shutil.ignore_patterns("credentials*"))
    (project / "logs").mkdir()  # conf/logging.yml's file handler writes logs/kedro_run.log
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(project / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "Success" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    return project / "build"


@pytest.fixture(scope="module")
def graph(viz_build) -> dict:
    return json.loads((viz_build / "api" / "main").read_text())


def datasets(graph: dict) -> dict[str, dict]:
    return {node["name"]: node for node in graph["nodes"] if node["type"] == "data"}


def test_build_is_a_static_site_with_every_pipeline(viz_build, graph):
    assert (viz_build / "index.html").is_file()
    assert {p["id"] for p in graph["pipelines"]} >= PIPELINES
    for pipeline in PIPELINES:
        assert json.loads((viz_build / "api" / "pipelines" / pipeline).read_text())["selected_pipeline"] == pipeline


def test_model_variants_are_grouped_by_namespace(graph):
    namespaces = set(graph["modular_pipelines"])
    models = load_model_lists()
    assert namespaces >= {*models.families, *models.image_models}
    roc_figure = datasets(graph)["random_forest.roc_figure"]
    assert roc_figure["modular_pipelines"] == ["random_forest"]


def test_key_datasets_carry_their_layer(graph):
    data = datasets(graph)
    expected = {
        "employees_validated": "intermediate",
        "test_metrics_random_forest": "model_output",
        "promotion_rates": "reporting",
        "tabular_comparison": "reporting",
        "study_report": "reporting",
        "lenet.history_figure": "reporting",
        "svm.variant_table": "reporting",
    }
    assert {name: data[name]["layer"] for name in expected} == expected
    assert set(data["study_report"]["pipelines"]) == {"reporting", "__default__"}


def test_report_is_wired_to_the_models_it_reports(graph):
    """In the whole-project graph the tabular metrics flow from their model's node into the report's nodes."""
    by_id = {node["id"]: node for node in graph["nodes"]}
    metrics = datasets(graph)["test_metrics_random_forest"]["id"]
    tasks = {node["id"] for node in graph["nodes"] if node["type"] == "task"}

    def named(ids) -> set[tuple[str, tuple[str, ...]]]:
        return {(by_id[i]["name"], tuple(by_id[i]["modular_pipelines"] or ())) for i in ids if i in tasks}

    producers = named(e["source"] for e in graph["edges"] if e["target"] == metrics)
    consumers = named(e["target"] for e in graph["edges"] if e["source"] == metrics)
    assert producers == {("evaluate_model", ("random_forest",))}
    assert {("compare_tabular_models", ()), ("render_tabular_section", ("random_forest",))} <= consumers


def test_layers_are_drawn(graph):
    assert graph["layers"][-1] == "reporting" and "models" in graph["layers"]


def _screenshot_script():
    spec = importlib.util.spec_from_file_location("viz_screenshot", PROJECT / "scripts" / "viz_screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_screenshot_ports_are_ones_kedro_viz_accepts():
    script = _screenshot_script()
    ports = [script.free_port() for _ in range(50)]
    assert all(1024 <= port <= 49151 for port in ports)
    assert script.free_port(exclude=(ports[0],)) != ports[0]


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")), reason="needs chromium")
def test_screenshot_script_draws_a_readable_view_and_leaves_no_process(tmp_path):
    """The tabular view (one namespace clicked open, the PNG cropped around it): the script checks the drawn graph and
    the label size itself and fails otherwise; here its PNG and its report of the labels, and no process left."""
    from PIL import Image

    marker = f"VIZ_SCREENSHOT_TEST={uuid.uuid4().hex}"
    name, value = marker.split("=")
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", name: value}
    out = tmp_path / "kedro-viz-tabular.png"
    command = [sys.executable, str(PROJECT / "scripts" / "viz_screenshot.py"), "--view", "tabular", "--out", str(out)]
    try:
        result = subprocess.run([*command, "--timeout", "180"], env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        labels = re.search(r"tabular: Chromium drew \d+ graph nodes \(\d+ checked\), labels ([\d.]+) px", result.stdout)
        assert labels and float(labels[1]) >= 11, result.stdout
        with Image.open(out) as image:
            assert image.width >= 1500 and image.height >= 1500, image.size  # the namespace at a readable zoom
        assert 10_000 < out.stat().st_size < 500_000
        assert processes_with_env(marker) == {}
    finally:
        for pid in processes_with_env(marker):  # after a failure: end what the test started
            os.kill(pid, signal.SIGKILL)
