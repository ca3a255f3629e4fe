"""MLflow tracking: `kedro run` on a tiny copy of the project logs one MLflow run, read back with the MLflow client."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("random_forest", "svm", "hist_gradient_boosting", "logistic_regression")
FAST = (
    "tabular_protocol.cv_folds=2,tabular_protocol.n_jobs=1,tabular_protocol.progress=0,svm.n_jobs=1,"
    "random_forest.base_params.n_estimators=40,random_forest.variants.n_estimators_500.n_estimators=60"
)
SMALL_TABLE = "employees_raw:\n  type: promotion_cnn.datasets.SyntheticEmployeesDataset\n  n_rows: 1500\n  seed: 1\n"
ENV = {"KEDRO_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg", "COLUMNS": "250", "PATH": "/usr/bin:/bin"}


def copy_project(destination: Path) -> Path:
    """The project without its data, runs or MLflow store, as a git repository with one commit."""
    ignore = shutil.ignore_patterns(
        ".git", "data", "__pycache__", "*.egg-info", ".pytest_cache", "build", "logs", "mlflow.db", "mlruns"
    )
    shutil.copytree(PROJECT_ROOT, destination, ignore=ignore)
    for layer in ("01_raw", "02_intermediate", "03_primary", "04_feature", "05_model_input", "06_models"):
        (destination / "data" / layer).mkdir(parents=True)
    for layer in ("07_model_output", "08_reporting"):
        (destination / "data" / layer).mkdir(parents=True)
    (destination / "conf" / "local" / "catalog.yml").write_text(SMALL_TABLE)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run([*git, *command], cwd=destination, check=True, capture_output=True)
    return destination


def kedro_run(project: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "kedro", "run", *args]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, env=ENV, timeout=900)


def client_for(project: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")


def top_runs(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name("promotion_cnn")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=500)
    return [run for run in runs if "mlflow.parentRunId" not in run.data.tags]


def children(client: MlflowClient, run) -> dict[str, object]:
    found = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'", max_results=500
    )
    return {child.info.run_name: child for child in found}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("tracked") / "promotion_cnn")
    result = kedro_run(project, "--pipeline", "tabular_modelling", "--params", FAST)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def test_one_finished_run_with_parameters_commit_and_inputs(tracked):
    client = client_for(tracked)
    (run,) = top_runs(client)
    assert run.info.status == "FINISHED" and run.info.run_name == "tabular_modelling"
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tracked, capture_output=True, text=True).stdout.strip()
    tags, params = run.data.tags, run.data.params
    assert tags["mlflow.source.git.commit"] == commit and tags["kedro.env"] == "local"
    assert tags["kedro.pipeline"] == "tabular_modelling"
    assert params["random_forest.base_params.n_estimators"] == "40"  # runtime override, flattened key
    assert params["tabular_protocol.cv_folds"] == "2" and "fairness.disparate_impact_bounds" in params
    assert params["input.employees_raw.rows"] == "1500" and len(params["input.employees_raw.sha256"]) == 64
    assert (tracked / "mlflow.db").is_file() and not (tracked / "notebooks" / "mlflow.db").exists()


def test_each_family_is_a_nested_run_with_cv_test_and_fairness_metrics(tracked):
    client = client_for(tracked)
    (run,) = top_runs(client)
    nested = children(client, run)
    assert set(FAMILIES) <= set(nested)
    for family in FAMILIES:
        metrics = nested[family].data.metrics
        for key in ("f1", "roc_auc", "average_precision", "precision", "recall"):
            assert f"test_{key}" in metrics, (family, key)
        assert {"threshold", "cv_f1", "cv_roc_auc", "cv_average_precision", "cv_precision_at_threshold"} <= set(metrics)
        assert any(key.startswith("fairness.") and key.endswith(".disparate_impact") for key in metrics)
        assert run.data.metrics[f"{family}.test_f1"] == metrics["test_f1"]
        variants = children(client, nested[family])
        assert variants and all("cv_f1" in v.data.metrics for v in variants.values())
        selected = [v for v in variants.values() if v.data.tags.get("selected") == "true"]
        assert [v.data.tags["variant"] for v in selected] == [nested[family].data.tags["selected_variant"]]
        assert nested[family].info.status == "FINISHED"


def test_reports_are_artifacts(tracked):
    client = client_for(tracked)
    (run,) = top_runs(client)
    names = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"inputs.json", "reporting"} <= names
    family_files = {f.path for f in client.list_artifacts(run.info.run_id, "reporting/random_forest")}
    assert "reporting/random_forest/test_metrics.json" in family_files
    assert list((tracked / "mlruns").rglob("test_metrics.json"))  # really there, in the project's mlruns/


def test_failed_run_is_failed_in_mlflow(tracked, tmp_path):
    bad = tmp_path / "to_score.csv"
    bad.write_text("employee_id,department\n1,Sales\n")
    env = tracked / "conf" / "bad_scoring"
    env.mkdir()
    (env / "catalog.yml").write_text(f"employees_to_score:\n  type: pandas.CSVDataset\n  filepath: {bad}\n")
    result = kedro_run(tracked, "--pipeline", "promotion_scoring", "--env", "bad_scoring")
    assert result.returncode != 0
    latest = top_runs(client_for(tracked))[0]
    assert latest.info.run_name == "promotion_scoring" and latest.info.status == "FAILED"
    assert "required column(s) missing" in latest.data.tags["error"]
    assert latest.data.tags["kedro.env"] == "bad_scoring"
