"""The run journal: outputs of a failed or dead run are undone; a live run's are left alone."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DataCatalog, Version
from kedro.pipeline import Node, Pipeline
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import ParquetDataset

from promotion_cnn.runs import RunJournal, RunJournalHook, output_entries, recover


def _catalog(root: Path, version: str) -> DataCatalog:
    return DataCatalog(
        {
            "table": ParquetDataset(filepath=str(root / "data/table.parquet")),
            "metrics": JSONDataset(filepath=str(root / "data/metrics.json"), version=Version(None, version)),
        }
    )


def _produce(source: int) -> tuple[pd.DataFrame, dict]:
    return pd.DataFrame({"x": range(source)}), {"rows": source}


PIPELINE = Pipeline([Node(_produce, "params:rows", ["table", "metrics"], name="produce")])


def _good_run(root: Path) -> None:
    catalog = _catalog(root, "v1")
    catalog.save("table", pd.DataFrame({"x": range(3)}))
    catalog.save("metrics", {"rows": 3})


def test_entries_cover_files_and_version_folders(tmp_path: Path) -> None:
    entries = output_entries(_catalog(tmp_path, "v2"), {"table", "metrics", "in_memory"})
    assert entries == [
        {"dataset": "metrics", "kind": "version", "path": str(tmp_path / "data/metrics.json/v2")},
        {"dataset": "table", "kind": "file", "path": str(tmp_path / "data/table.parquet")},
    ]


def test_rollback_restores_files_and_removes_new_versions(tmp_path: Path) -> None:
    _good_run(tmp_path)
    catalog = _catalog(tmp_path, "v2")
    journal = RunJournal(tmp_path / "data/.runs/v2")
    journal.begin("v2", output_entries(catalog, {"table", "metrics"}), {})
    catalog.save("table", pd.DataFrame({"x": range(10)}))  # the failed run's partial outputs
    catalog.save("metrics", {"rows": 10})
    assert len(journal.rollback()) == 2
    assert len(pd.read_parquet(tmp_path / "data/table.parquet")) == 3
    assert [p.name for p in (tmp_path / "data/metrics.json").iterdir()] == ["v1"]
    assert not journal.folder.exists()


def test_commit_keeps_the_new_outputs(tmp_path: Path) -> None:
    _good_run(tmp_path)
    catalog = _catalog(tmp_path, "v2")
    journal = RunJournal(tmp_path / "data/.runs/v2")
    journal.begin("v2", output_entries(catalog, {"table", "metrics"}), {})
    catalog.save("table", pd.DataFrame({"x": range(10)}))
    journal.commit()
    assert len(pd.read_parquet(tmp_path / "data/table.parquet")) == 10 and not journal.folder.exists()


def test_a_dead_run_is_rolled_back_and_a_live_one_is_not(tmp_path: Path, caplog) -> None:
    _good_run(tmp_path)
    runs = tmp_path / "data/.runs"
    catalog = _catalog(tmp_path, "v2")
    journal = RunJournal(runs / "v2")
    journal.begin("v2", output_entries(catalog, {"table", "metrics"}), {})
    catalog.save("table", pd.DataFrame({"x": range(10)}))
    recover(runs)  # this process owns the journal: alive, left alone
    assert len(pd.read_parquet(tmp_path / "data/table.parquet")) == 10

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    state = json.loads(journal.file.read_text())
    state["owner"]["pid"] = int(dead.stdout)
    journal.file.write_text(json.dumps(state))
    with caplog.at_level(logging.WARNING):
        recover(runs)
    assert "Run v2" in caplog.text and "did not finish: rolled back its 1 output(s)" in caplog.text
    assert len(pd.read_parquet(tmp_path / "data/table.parquet")) == 3
    assert not list(runs.glob("*/journal.json"))


def test_an_interrupted_rollback_is_finished_by_the_next(tmp_path: Path) -> None:
    _good_run(tmp_path)
    catalog = _catalog(tmp_path, "v2")
    journal = RunJournal(tmp_path / "data/.runs/v2")
    journal.begin("v2", output_entries(catalog, {"table", "metrics"}), {})
    catalog.save("metrics", {"rows": 10})
    state = journal.read()
    (tmp_path / "data/metrics.json/v2").rename(tmp_path / "gone")  # as if a first rollback removed this, then died
    journal.file.write_text(json.dumps(state))
    journal.rollback()
    assert len(pd.read_parquet(tmp_path / "data/table.parquet")) == 3 and not journal.folder.exists()


def test_hook_refuses_a_run_that_writes_what_a_live_run_writes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    first, second = RunJournalHook(), RunJournalHook()
    first.before_pipeline_run({"run_id": "v2"}, PIPELINE, _catalog(tmp_path, "v2"))
    with pytest.raises(RuntimeError, match="Run v2 .* is still running and writes 1 of this run's outputs"):
        second.before_pipeline_run({"run_id": "v3"}, PIPELINE, _catalog(tmp_path, "v3"))
    first.on_pipeline_error(ValueError("boom"), {}, PIPELINE, None)
    second.before_pipeline_run({"run_id": "v3"}, PIPELINE, _catalog(tmp_path, "v3"))
    second.after_pipeline_run({}, None, PIPELINE, None)
    assert not list((tmp_path / "data/.runs").glob("*/journal.json"))
