"""MLflow tracking: `kedro run` on a tiny copy of the project logs one MLflow run, read back with the MLflow client."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

# one worker runs both modules, so they share the session's tracked run (conftest.mlflow_project)
pytestmark = pytest.mark.xdist_group("mlflow")


PROJECT_ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("random_forest", "svm", "hist_gradient_boosting", "logistic_regression")


def client_for(project: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")


def top_runs(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name("promotion_cnn")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=500)
    return [run for run in runs if "mlflow.parentRunId" not in run.data.tags]


def tabular_run(client: MlflowClient):
    """The fixture's training run (other tests add scoring runs)."""
    return [run for run in top_runs(client) if run.info.run_name == "tabular_modelling"][-1]


def children(client: MlflowClient, run) -> dict[str, object]:
    found = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'", max_results=500
    )
    return {child.info.run_name: child for child in found}


@pytest.fixture(scope="module")
def tracked(mlflow_project) -> Path:
    return mlflow_project


def test_one_finished_run_with_parameters_commit_and_inputs(tracked):
    client = client_for(tracked)
    run = tabular_run(client)
    assert [r.info.run_name for r in top_runs(client)].count("tabular_modelling") == 1
    assert run.info.status == "FINISHED"
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
    run = tabular_run(client)
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
    run = tabular_run(client)
    names = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"inputs.json", "reporting"} <= names
    family_files = {f.path for f in client.list_artifacts(run.info.run_id, "reporting/random_forest")}
    assert "reporting/random_forest/test_metrics.json" in family_files
    assert list((tracked / "mlruns").rglob("test_metrics.json"))  # really there, in the project's mlruns/


def test_failed_run_is_failed_in_mlflow(tracked, tmp_path, kedro_cli):
    bad = tmp_path / "to_score.csv"
    bad.write_text("employee_id,department\n1,Sales\n")
    env = tracked / "conf" / "bad_scoring"
    env.mkdir()
    (env / "catalog.yml").write_text(f"employees_to_score:\n  type: pandas.CSVDataset\n  filepath: {bad}\n")
    result = kedro_cli(tracked, "--pipelines", "promotion_scoring", "--env", "bad_scoring")
    assert result.returncode != 0
    latest = top_runs(client_for(tracked))[0]
    assert latest.info.run_name == "promotion_scoring" and latest.info.status == "FAILED"
    assert "before its first node" in latest.data.tags["error"]  # the contract refused the table (the console names it)
    assert "required column missing" in " ".join((result.stdout + result.stderr).split())
    assert latest.data.tags["kedro.env"] == "bad_scoring"


def test_kedro_mlflow_datasets_log_to_the_run(tracked, kedro_cli):
    # the run is re-opened only before nodes using kedro-mlflow's datasets (KedroMlflowRunHook): they still log to
    # it, also from ThreadRunner's threads (without the re-opening, the dataset starts a run of its own there)
    env = tracked / "conf" / "mlflow_artifact"
    env.mkdir()
    (env / "catalog.yml").write_text(
        "promotion_recommendation_summary:\n"
        "  type: kedro_mlflow.io.artifacts.MlflowArtifactDataset\n"
        "  dataset: {type: pandas.CSVDataset, filepath: data/08_reporting/summary_artifact.csv}\n"
    )
    result = kedro_cli(
        tracked, "--pipelines", "promotion_scoring", "--env", "mlflow_artifact", "--runner", "ThreadRunner"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    client = client_for(tracked)
    latest = top_runs(client)[0]
    assert latest.info.run_name == "promotion_scoring" and latest.info.status == "FINISHED"
    assert "summary_artifact.csv" in {f.path for f in client.list_artifacts(latest.info.run_id)}


def test_recommender_is_registered_champion_with_its_files(tracked):
    import pandas as pd

    client = client_for(tracked)
    run = tabular_run(client)
    (version,) = client.search_model_versions("name='promotion_recommender'")
    assert client.get_model_version_by_alias("promotion_recommender", "champion").version == version.version
    (saved,) = (tracked / "data/06_models/recommender.pkl").glob("*/")
    assert version.tags["kedro_version"] == saved.name and version.run_id == run.info.run_id
    uri = "models:/promotion_recommender@champion"
    mlflow.set_tracking_uri(f"sqlite:///{tracked}/mlflow.db")
    mlflow.set_registry_uri(f"sqlite:///{tracked}/mlflow.db")
    local = Path(mlflow.artifacts.download_artifacts(uri))
    files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert {"MLmodel", "input_example.json", "artifacts/recommender.pkl", "artifacts/scoring_parameters.json"} <= files
    assert "code/promotion_cnn/serving/scorer.py" in files  # the scoring code travels with the model
    model = mlflow.pyfunc.load_model(uri)
    assert model.metadata.signature is not None and "awards_won?" in model.metadata.signature.inputs.input_names()
    # JSON writes 3.0 as 3; the signature wants previous_year_rating as a double (NaN in real data makes it float)
    example = pd.read_json(local / "input_example.json", orient="split").astype({"previous_year_rating": "float64"})
    ranked = model.predict(example)
    assert ranked.columns[:4].tolist() == ["employee_id", "probability", "recommended", "rank"]
    assert ranked["rank"].tolist() == list(range(1, len(example) + 1))


def test_an_input_loaded_by_two_threads_at_once_is_fingerprinted_once(tracked, tmp_path, caplog):
    """ThreadRunner: nodes loading the same raw input together log its fingerprint once, and no tracking warning
    (concurrent inserts of the same parameters failed on SQLite's UNIQUE constraint: the input went unrecorded)."""
    import logging
    import threading

    import pandas as pd
    from kedro.io import DataCatalog
    from kedro_datasets.pandas import CSVDataset

    from promotion_cnn.tracking import MlflowTrackingHook

    client = client_for(tracked)
    run = client.create_run(client.create_experiment("concurrent_loads"))  # not the project's experiment
    table = pd.DataFrame({"employee_id": range(20_000), "age": 30})
    table.to_csv(tmp_path / "employees.csv", index=False)
    hook = MlflowTrackingHook()  # as before_pipeline_run leaves it for a run with one raw input
    hook._client, hook._run_id, hook._raw_inputs = client, run.info.run_id, {"employees_raw"}
    hook._catalog = DataCatalog({"employees_raw": CSVDataset(filepath=str(tmp_path / "employees.csv"))})
    logged, log_batch = [], client.log_batch

    def counted_log_batch(run_id, metrics=(), params=(), tags=()):
        logged.extend(param.key for param in params)
        return log_batch(run_id, metrics=metrics, params=params, tags=tags)

    client.log_batch = counted_log_batch
    barrier = threading.Barrier(4)

    def load() -> None:
        barrier.wait()
        hook.after_dataset_loaded("employees_raw", table, node=None)

    threads = [threading.Thread(target=load) for _ in range(4)]
    with caplog.at_level(logging.WARNING, logger="promotion_cnn.tracking"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [record.getMessage() for record in caplog.records] == []
    assert logged.count("input.employees_raw.sha256") == 1
    assert client.get_run(run.info.run_id).data.params["input.employees_raw.rows"] == "20000"
