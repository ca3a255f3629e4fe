"""The HTTP scoring service: started on a free local port, good and bad requests, answers equal to the batch run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from promotion_cnn.datasets import generate_employees
from promotion_cnn.local_processes import free_port, stop

# one worker runs both modules, so they share the session's tracked run (conftest.mlflow_project)
pytestmark = pytest.mark.xdist_group("mlflow")


pytest.importorskip("mlflow")
pytest.importorskip("fastapi")


def request(port: int, body: bytes, content_type: str = "application/json", accept: str = "") -> tuple[int, str]:
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    call = urllib.request.Request(f"http://127.0.0.1:{port}/score", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(call, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Service:
    """``python -m promotion_cnn.serving`` in its own process group, stopped (group and all) on exit."""

    def __init__(self, project: Path, *args: str) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(project / "src"), "KEDRO_DISABLE_TELEMETRY": "true"}
        command = [sys.executable, "-m", "promotion_cnn.serving", "--project", str(project), "--port", str(self.port)]
        self.log = project / f"serving-{self.port}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [*command, *args], cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as answer:
                    self.health = json.loads(answer.read())
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(self.log.read_text()[-3000:]) from None
                time.sleep(0.5)

    def stop(self) -> None:
        stop(self.process)
        with pytest.raises(ProcessLookupError):  # no process of the group is left
            os.killpg(self.process.pid, 0)


@pytest.fixture(scope="module")
def employees() -> pd.DataFrame:
    return generate_employees(60, seed=11).drop(columns="is_promoted")


@pytest.fixture(scope="module")
def batch(mlflow_project, employees, kedro_cli, tmp_path_factory) -> pd.DataFrame:
    """``kedro run --pipelines promotion_scoring`` on the same rows (a CSV, as a user would give them)."""
    csv = tmp_path_factory.mktemp("batch") / "employees.csv"
    employees.to_csv(csv, index=False)
    env = mlflow_project / "conf" / "score60"
    env.mkdir(exist_ok=True)
    (env / "catalog.yml").write_text(f"employees_to_score:\n  type: pandas.CSVDataset\n  filepath: {csv}\n")
    result = kedro_cli(mlflow_project, "--pipelines", "promotion_scoring", "--env", "score60")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    latest = sorted(
        (mlflow_project / "data/07_model_output/promotion_scoring/promotion_recommendations.csv").glob("*/*")
    )
    return pd.read_csv(latest[-1])


@pytest.fixture(scope="module")
def service(mlflow_project):
    running = Service(mlflow_project)
    yield running
    running.stop()


def test_answers_equal_the_batch_pipeline(service, employees, batch):
    status, body = request(service.port, employees.to_json(orient="records").encode())
    assert status == 200, body
    answer = json.loads(body)
    table = pd.DataFrame(answer["recommendations"])
    assert table.columns.tolist() == ["employee_id", "probability", "recommended", "rank"]
    assert answer["model_version"] == batch.model_version.iat[0] and answer["model"] == batch.model.iat[0]
    pd.testing.assert_frame_equal(table, batch[table.columns], check_exact=False, rtol=0, atol=1e-12)
    status, csv = request(service.port, employees.to_csv(index=False).encode(), "text/csv", accept="text/csv")
    assert status == 200
    pd.testing.assert_frame_equal(pd.read_csv(pd.io.common.StringIO(csv)), batch)  # CSV: the batch file itself


@pytest.mark.parametrize(
    ("corrupt", "status", "message"),
    [
        (lambda t: t.drop(columns="region"), 422, "region: required column missing"),
        (lambda t: t.astype({"age": "object"}).assign(age=lambda d: d.age.where(d.index != 3, "forty")), 422,
         "age: numeric — 1 case (e.g. row 3: 'forty')"),
        (lambda t: t.assign(employee_id=t.employee_id.where(t.index != 1, t.employee_id.iat[0])), 422,
         "employee_id: field_uniqueness — 2 cases"),
        (lambda t: t.iloc[0:0], 422, "at_least_one_row: the table is empty"),
        (lambda t: t.assign(education=t.education.where(t.index != 2, "PhD")), 422, "'PhD'"),
    ],
    ids=["missing-column", "non-number", "duplicate-id", "empty", "unknown-education"],
)  # fmt: skip
def test_bad_tables_get_the_batch_pipelines_named_error(service, employees, corrupt, status, message):
    code, body = request(service.port, corrupt(employees).to_json(orient="records").encode())
    answer = json.loads(body)
    assert code == status and answer["error"] == "InvalidTableError" and message in answer["message"], body
    assert "Traceback" not in body


def test_unseen_level_is_scored_per_policy_and_bad_bodies_are_4xx(service, employees):
    code, body = request(service.port, employees.assign(region="region_99").to_json(orient="records").encode())
    assert code == 200 and len(json.loads(body)["recommendations"]) == len(employees)  # unseen_levels: warn
    for payload, content_type, expected in [
        (b"", "application/json", 422),
        (b"{not json", "application/json", 400),
        (b'{"a": 1}', "application/json", 400),
        (b"employee_id\n1", "application/xml", 415),
    ]:
        code, body = request(service.port, payload, content_type)
        assert code == expected and "Traceback" not in body and json.loads(body)["error"], (payload, body)


def test_registered_champion_is_served_and_named(mlflow_project, employees, batch):
    registered = Service(mlflow_project, "--model-uri", "models:/promotion_recommender@champion")
    try:
        assert registered.health["model_version"] == "promotion_recommender/1"
        status, body = request(registered.port, employees.to_json(orient="records").encode())
        answer = json.loads(body)
        assert status == 200 and answer["model_version"] == "promotion_recommender/1"
        table = pd.DataFrame(answer["recommendations"])
        pd.testing.assert_frame_equal(table, batch[table.columns], check_exact=False, rtol=0, atol=1e-12)
    finally:
        registered.stop()


def test_scoring_pipeline_loads_the_registered_model_by_catalog(mlflow_project, kedro_cli, batch):
    result = kedro_cli(mlflow_project, "--pipelines", "promotion_scoring", "--env", "registry")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    latest = sorted(
        (mlflow_project / "data/07_model_output/promotion_scoring/promotion_recommendations.csv").glob("*/*")
    )
    scored = pd.read_csv(latest[-1])
    assert (scored.model_version == "promotion_recommender/1").all() and len(scored) == 2000
