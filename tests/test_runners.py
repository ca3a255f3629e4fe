"""`kedro run --pipelines tabular_modelling` under each runner: same test metrics, the process exits, no child left.

The sequential run builds everything; the other runners then rerun two families (``--namespaces``), which holds
what differs between runners: parallel fits in loky workers, memory datasets between a family's nodes, hooks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import support

FAMILIES = ("random_forest", "svm")
# two parallel fits per family, so joblib starts loky worker processes (inside ParallelRunner's workers too)
PARAMS = (
    "tabular_protocol.cv_folds=2,tabular_protocol.parallel_fits=2,tabular_protocol.progress=0,svm.parallel_fits=2,"
    "random_forest.base_params.n_estimators=20,random_forest.variants.n_estimators_500.n_estimators=30,"
    "assessment.bootstrap.n_boot=20"
)


def _group_members(group: int) -> list[str]:
    """Live processes still in the run's process group (loky workers, ParallelRunner workers, ...); zombies have
    exited and only wait for init to reap them."""
    listing = subprocess.run(["ps", "-eo", "pgid=,pid=,stat=,args="], capture_output=True, text=True, check=True)
    rows = [line.split(None, 3) for line in listing.stdout.splitlines()]
    return [" ".join(row) for row in rows if len(row) > 2 and row[0] == str(group) and not row[2].startswith("Z")]


def _left_behind(group: int, seconds: float = 10) -> list[str]:
    """The group's live members once they have had ``seconds`` to exit."""
    deadline = time.monotonic() + seconds
    while (left := _group_members(group)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def _run(project: Path, runner: str, *selection: str) -> tuple[str, dict[str, dict]]:
    """Run in its own process group; fail on a hang (timeout) or on a process left behind; return the metrics."""
    command = support.kedro_command("--pipelines", "tabular_modelling", "--runner", runner, *selection)
    process = subprocess.Popen(
        [*command, "--params", PARAMS],
        cwd=project,
        env=support.kedro_env(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=420)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"{runner}: kedro run did not exit within 420 s")
    left = _left_behind(process.pid)
    if left:
        os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, output[-3000:]
    assert not left, f"{runner} left processes behind: {left}"
    metrics = {}
    for family in FAMILIES:
        latest = sorted((project / "data/08_reporting" / family / "test_metrics.json").glob("*/test_metrics.json"))[-1]
        metrics[family] = json.loads(latest.read_text())
    return output, metrics


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return support.copy_project(tmp_path_factory.mktemp("runners") / "promotion_cnn", rows=500, seed=3)


@pytest.fixture(scope="module")
def sequential(project) -> dict[str, dict]:
    return _run(project, "SequentialRunner")[1]


@pytest.mark.parametrize("runner", ["ThreadRunner", "ParallelRunner"])
def test_runner_gives_the_sequential_metrics_and_exits(project, sequential, runner):
    # the fits reused by fit_selected_model pass as a file (persisted for orchestrators, docs/scaling.md), so this
    # slice leaves ShareMemoryDatasetsHook nothing to share (tests/test_runner_hooks.py covers the hook)
    fitted = [project / "data/06_models" / family / "fitted_variants.pkl" for family in FAMILIES]
    for path in fitted:
        path.unlink(missing_ok=True)
    output, metrics = _run(project, runner, "--namespaces", ",".join(FAMILIES))
    assert metrics == sequential
    # a quiet console under every runner: no tracking race (an input fingerprinted twice at once), no library notice
    warnings = [line for line in output.splitlines() if "WARNING" in line and "Disparate impact" not in line]
    assert warnings == [], output[-3000:]
    assert all(path.is_file() for path in fitted)
