"""Shared test fixtures: tiny generated data and the project's own configuration."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from kedro.validation.parameter_validator import ParameterValidator
from support import KeptDataset, copy_project, kedro_run

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


# The longest groups (measured with `pytest --durations`, each 1-6 minutes on the 2-core VM) start first, so that
# no worker begins one of them when the others are nearly done (longest-processing-time-first scheduling).
LONGEST_FIRST = (
    "tests/pipelines/image_prediction/test_prediction.py",
    "tests/test_fresh_clone.py",
    "mlflow",
    "tests/test_runners.py",
    "default_run",
    "tests/pipelines/image_modelling/test_odd_image_counts.py",
    "tests/pipelines/image_modelling/test_pipeline.py",
)


def _group(item: pytest.Item) -> str:
    return item.get_closest_marker("xdist_group").args[0]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's worker reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``-n auto --dist loadgroup`` (pyproject.toml) each test file runs whole on one worker, so its module
    fixtures are built once and its tests keep their order; files sharing a session fixture name a shared
    ``xdist_group`` (test_tracking and test_serving: the tracked run). The groups of ``LONGEST_FIRST`` come first."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))  # stable: order within a group kept


def _merge(base: dict, overrides: dict) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


@pytest.fixture(scope="session")
def project_params() -> dict[str, Any]:
    """The committed base parameters."""
    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")
    return loader["parameters"]


@pytest.fixture(scope="session")
def fast_params(project_params) -> dict[str, Any]:
    """Base parameters shrunk for tests: small forests, two folds, no parallel workers (starting the SVM family's
    six worker processes costs more than its fits on tiny data)."""
    return _merge(
        project_params,
        {
            "tabular_protocol": {"cv_folds": 2, "parallel_fits": 1, "progress": 0},
            "assessment": {"bootstrap": {"n_boot": 20}},
            "svm": {"parallel_fits": 1},
            "random_forest": {
                "base_params": {"n_estimators": 40},
                "variants": {"n_estimators_500": {"n_estimators": 60}},
            },
        },
    )


def _parameter(params: dict[str, Any], name: str) -> Any:
    value = params
    for key in name.removeprefix("params:").split("."):
        value = value[key] if isinstance(value, dict) else getattr(value, key)
    return value


def typed_params(pipeline: Pipeline, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters as a run gives them to ``pipeline``'s nodes: blocks hinted with a model become that model."""
    return ParameterValidator({"pipeline": pipeline}).validate_raw_params(params)


@pytest.fixture(scope="session")
def run_pipeline():
    """Run a pipeline in memory: ``inputs`` as datasets, parameters from ``params``, returns ``outputs``."""

    def run(pipeline: Pipeline, params: dict[str, Any], inputs: dict[str, Any], outputs: list[str]) -> dict[str, Any]:
        catalog = DataCatalog({name: MemoryDataset(value, copy_mode="assign") for name, value in inputs.items()})
        params = typed_params(pipeline, params)
        for name in pipeline.datasets():
            if name.startswith("params:"):
                catalog[name] = MemoryDataset(_parameter(params, name))
        for name in outputs:
            catalog[name] = KeptDataset(copy_mode="assign")
        SequentialRunner().run(pipeline, catalog)
        return {name: catalog[name].load() for name in outputs}

    return run


# ---------- MLflow: one tiny tracked `kedro run --pipelines tabular_modelling`, shared by tracking and serving tests ----------
# the `fast_params` overrides as `kedro run --params`: small forests, two folds, one process, 20 bootstrap resamples
FAST_RUN = (
    "tabular_protocol.cv_folds=2,tabular_protocol.parallel_fits=1,tabular_protocol.progress=0,svm.parallel_fits=1,"
    "random_forest.base_params.n_estimators=40,random_forest.variants.n_estimators_500.n_estimators=60,"
    "assessment.bootstrap.n_boot=20"
)


@pytest.fixture(scope="session")
def fast_run() -> str:
    """``kedro run --params`` for a quick tabular run (the ``fast_params`` overrides)."""
    return FAST_RUN


@pytest.fixture(scope="session")
def kedro_cli():
    """``kedro_cli(project, *args)``: ``kedro run`` in a subprocess of this interpreter, the project's own src first."""
    return kedro_run


@pytest.fixture(scope="session")
def mlflow_project(tmp_path_factory, kedro_cli) -> Path:
    """A copy of the project (no data, no MLflow store; a git repository of one commit) after one tracked
    ``kedro run --pipelines tabular_modelling`` on 1,500 generated employees."""
    pytest.importorskip("mlflow")
    project = copy_project(tmp_path_factory.mktemp("mlflow") / "promotion_cnn", rows=1500)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run([*git, *command], cwd=project, check=True, capture_output=True)
    result = kedro_cli(project, "--pipelines", "tabular_modelling", "--params", FAST_RUN)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


@pytest.fixture(scope="session")
def kill_run_when():
    """Start a command in its own process group, SIGKILL the group once ``ready()`` (then ``settle`` seconds later);
    fails if the command ends first or ``ready`` never comes. Returns the exit code (``-SIGKILL``)."""

    def run(command: list[str], cwd: Path, env: dict[str, str], ready: Callable[[], bool], settle: float = 0) -> int:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 300
            while not ready():
                assert process.poll() is None and time.monotonic() < deadline, "the run ended before it was killed"
                time.sleep(0.1)
            time.sleep(settle)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
        return process.returncode

    return run
