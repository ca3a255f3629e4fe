"""Tabular fits on a Dask cluster (``tabular_protocol.parallel.backend: dask``) give the loky run's results exactly;
the default path never imports ``distributed``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from promotion_cnn.datasets import generate_employees
from promotion_cnn.local_processes import processes_with_env
from promotion_cnn.model_lists import exported, load_model_lists
from promotion_cnn.pipelines.data_processing import create_tabular_pipeline
from promotion_cnn.pipelines.tabular_modelling import create_pipeline

ROWS = 1200  # tiny: a few seconds of fits per backend, still 50+ rows of each class in every fold


FAMILIES = tuple(load_model_lists().families)
OUTPUTS = [name for f in FAMILIES for name in (exported("test_metrics", f), f"{f}.variant_scores")]


def _with(params: dict, protocol: dict, **families: dict) -> dict:
    """``params`` with keys of ``tabular_protocol`` and of family blocks replaced."""
    changed = {**params, "tabular_protocol": {**params["tabular_protocol"], **protocol}}
    return changed | {family: {**params[family], **keys} for family, keys in families.items()}


def test_dask_cluster_gives_the_loky_runs_metrics_to_the_last_digit(fast_params, run_pipeline):
    distributed = pytest.importorskip("distributed")
    pipeline = (create_tabular_pipeline() + create_pipeline()).to_outputs(*OUTPUTS)  # no assessment or report
    inputs = {"employees_raw": generate_employees(ROWS, 5)}
    # real loky workers for the reference: two fits at a time (the forests keep their own parallel_fits: 1)
    params = _with(fast_params, {"parallel_fits": 2}, svm={"parallel_fits": 2})
    loky = run_pipeline(pipeline, params, inputs, OUTPUTS)

    marker = f"PROMOTION_CNN_DASK_TEST={uuid.uuid4().hex}"  # inherited by the nanny and worker processes only
    name, value = marker.split("=")
    os.environ[name] = value
    cluster = client = None
    try:
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        os.environ.pop(name)
        client = distributed.Client(cluster)
        assert len(processes_with_env(marker)) >= 2  # the workers (and their nannies) are seen
        started = time.perf_counter()
        on_dask = {"parallel": {"backend": "dask", "scheduler_address": cluster.scheduler_address}}
        dask = run_pipeline(pipeline, _with(params, on_dask), inputs, OUTPUTS)
        seconds = time.perf_counter() - started
        ran_on = client.run(lambda dask_worker: dask_worker.state.executed_count)
    finally:
        os.environ.pop(name, None)
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    deadline = time.monotonic() + 10
    while processes_with_env(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with_env(marker) == {}, "a Dask worker or nanny process is left"

    assert all(count > 0 for count in ran_on.values()), ran_on  # both workers fitted
    print(f"dask run: {seconds:.1f} s, tasks per worker: {list(ran_on.values())}")
    for family in FAMILIES:
        metrics = exported("test_metrics", family)
        assert dask[metrics] == loky[metrics], family  # floats compared exactly
        drop = ["fit_seconds"]
        assert (
            dask[f"{family}.variant_scores"]
            .drop(columns=drop)
            .equals(loky[f"{family}.variant_scores"].drop(columns=drop))
        ), family


def test_default_backend_does_not_import_distributed():
    """The default (loky) run of the tabular fits never imports ``distributed`` or ``dask``."""
    code = """
import sys
import pandas as pd
from promotion_cnn.datasets import generate_employees
from promotion_cnn.pipelines.tabular_modelling import nodes
from promotion_cnn.pipelines.tabular_modelling.params import ModelFamily, TabularProtocol
table = generate_employees(400, 1)
y = table[["is_promoted"]]
x = table[["previous_year_rating", "length_of_service", "avg_training_score"]].fillna(0)
protocol = TabularProtocol(cv_folds=2, selection_metric="cv_f1", threshold_source="out_of_fold", random_state=0,
                           parallel_fits=2, progress=0)
family = ModelFamily(estimator="sklearn.linear_model.LogisticRegression", feature_set="full", use_reducer=False,
                     variants={"default": {}, "strong": {"C": 0.05}}, threshold={"method": "f1"})
scores, _, _ = nodes.evaluate_variants(x, y, None, family, protocol)
assert len(scores) == 2, scores
print(sorted(name for name in sys.modules if name.split(".")[0] in ("distributed", "dask")))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
