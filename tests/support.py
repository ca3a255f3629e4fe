"""Helpers shared by the tests that run `kedro run` on a copy of the project (importable: pyproject's pythonpath)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from kedro.io import MemoryDataset

from promotion_cnn.pipelines.tabular_modelling.params import TabularProtocol

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# what a fresh clone does not have: git data, caches, outputs of earlier runs, the MLflow store, local config
NOT_IN_A_CLONE = (".git", "data", "logs", "*.log", "*.log.*", "mlflow.db", "mlruns", ".viz", "__pycache__")
NOT_IN_A_CLONE += ("*.egg-info", ".pytest_cache", ".ruff_cache", ".benchmarks", "build", "local")
DATA_LAYERS = ("01_raw", "02_intermediate", "03_primary", "04_feature", "05_model_input", "06_models")
DATA_LAYERS += ("07_model_output", "08_reporting")
SMALL_TABLE = (
    "employees_raw:\n  type: promotion_cnn.datasets.SyntheticEmployeesDataset\n  n_rows: {rows}\n  seed: {seed}\n"
)


class KeptDataset(MemoryDataset):
    """A memory dataset (by reference) the runner cannot release, so tests can read intermediate outputs."""

    def __init__(self, data=None, copy_mode: str = "assign"):
        super().__init__(data, copy_mode=copy_mode)

    def _release(self) -> None:
        pass


def copy_project(destination: Path, rows: int | None = None, seed: int = 1) -> Path:
    """The project's code and configuration as a fresh clone has them, with empty data layers, logs/ and
    conf/local; with ``rows``, conf/local/catalog.yml swaps in that many generated employees."""
    shutil.copytree(PROJECT_ROOT, destination, ignore=shutil.ignore_patterns(*NOT_IN_A_CLONE))
    for layer in DATA_LAYERS:
        (destination / "data" / layer).mkdir(parents=True)
    (destination / "conf" / "local").mkdir()
    (destination / "logs").mkdir()  # a clone has it (logs/.gitkeep): conf/logging.yml's file handler writes there
    if rows is not None:
        (destination / "conf" / "local" / "catalog.yml").write_text(SMALL_TABLE.format(rows=rows, seed=seed))
    return destination


def kedro_env(project: Path) -> dict[str, str]:
    """The environment of a `kedro run` subprocess: telemetry off, no display, the copy's own src first."""
    return {
        "KEDRO_DISABLE_TELEMETRY": "true",
        "MPLBACKEND": "Agg",
        "COLUMNS": "250",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(project / "src"),
    }


def kedro_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kedro", "run", *args]


def kedro_run(project: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``kedro run *args`` in ``project``, output captured."""
    return subprocess.run(
        kedro_command(*args), cwd=project, capture_output=True, text=True, env=kedro_env(project), timeout=timeout
    )


# the study-faithful protocol on tiny data: no cross-validation, thresholds in sample, one fit at a time
NO_CV = TabularProtocol(
    cv_folds=0,
    selection_metric="cv_f1_tuned",
    threshold_source="in_sample",
    random_state=0,
    parallel_fits=1,
    progress=0,
)
