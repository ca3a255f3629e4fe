"""All-or-nothing runs: an undo journal per ``kedro run``, so a failed, crashed or killed run leaves no outputs.

Before the first node runs, ``RunJournalHook`` writes a journal (``data/.runs/<run id>/journal.json``, flushed to
disk) listing every file-backed output of the run, and copies the current file of each unversioned output into
the journal's folder. Versioned outputs need no copy: the run's new version folder is listed instead.
Then:

- the run succeeds: the copies are deleted with the journal (the run's outputs are final);
- the run fails with a Python error: ``on_pipeline_error`` rolls back (new files and version folders deleted,
  the copies put back);
- the process dies (``kill -9``, a native crash, Ctrl-C): the journal stays, and the next Kedro session in this
  project (any ``kedro run``, ``kedro jupyter``, a ``KedroSession``) rolls it back before it loads anything,
  once its owner process is gone.

So every consumer (``reporting``, ``promotion_scoring``, ``image_prediction``, a partial ``--pipelines`` run) reads
the last successful run's outputs, intermediates included. A run whose outputs overlap a live run's refuses to
start; a run that reads a live run's unfinished outputs is warned. Local files only (remote protocols are logged
and left alone). The guarantee is written down in docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractDataset, AbstractVersionedDataset, DataCatalog
from kedro.pipeline import Pipeline

logger = logging.getLogger(__name__)

JOURNAL_DIR = Path("data") / ".runs"


def _process_start(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, Linux), ``None`` when no such process runs."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): fall back to "a process with that id exists"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return "?"


def _local_path(dataset: AbstractDataset) -> Path | None:
    """Where an unversioned file-backed dataset writes, ``None`` for in-memory or remote datasets."""
    described = dataset._describe()
    where = described.get("filepath") or described.get("path")
    protocol = described.get("protocol") or getattr(dataset, "_protocol", "file")
    if not where or protocol not in ("file", "local", None):
        if where:
            logger.debug("%s is not local (%s): not covered by the run journal", dataset, protocol)
        return None
    return Path(str(where)).resolve()


def output_entries(catalog: DataCatalog, names: set[str]) -> list[dict[str, str]]:
    """One journal entry per file-backed output: a version folder the run creates, or a file it replaces."""
    entries = []
    for name in sorted(names):
        dataset = catalog.get(name)
        if dataset is None:
            continue
        inner = getattr(dataset, "wrapped", None)  # OptionalDataset and other wrappers
        dataset = inner if isinstance(inner, AbstractDataset) else dataset
        if isinstance(dataset, AbstractVersionedDataset) and dataset.resolve_save_version():
            version = dataset.resolve_save_version()
            target = Path(str(dataset._get_versioned_path(version).parent)).resolve()
            entries.append({"dataset": name, "kind": "version", "path": str(target)})
        elif (path := _local_path(dataset)) is not None:
            entries.append({"dataset": name, "kind": "file", "path": str(path)})
    return entries


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` so that a reader sees the old file or the whole new one, never half of it."""
    partial = path.with_suffix(".partial")
    with partial.open("w") as stream:
        json.dump(data, stream, indent=1)
        stream.flush()
        os.fsync(stream.fileno())
    partial.replace(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


class RunJournal:
    """The undo journal of one run: ``begin`` before any node, then ``commit`` or ``rollback``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.file = folder / "journal.json"

    @classmethod
    def open_all(cls, root: Path) -> list[RunJournal]:
        return [cls(folder) for folder in sorted(root.glob("*")) if (folder / "journal.json").exists()]

    def read(self) -> dict[str, Any]:
        return json.loads(self.file.read_text())

    def owner_alive(self) -> bool:
        owner = self.read()["owner"]
        return _process_start(owner["pid"]) == owner["start"]

    def begin(self, run_id: str, entries: list[dict[str, str]], run_params: dict[str, Any]) -> None:
        """Record the run's outputs on disk, then copy the current unversioned files into the journal."""
        self.folder.mkdir(parents=True, exist_ok=False)
        backups = self.folder / "previous"
        for i, entry in enumerate(entries):
            if entry["kind"] == "file":
                entry["backup"] = str(backups / f"{i:04d}_{Path(entry['path']).name}")
        pid = os.getpid()
        journal = {
            "run_id": run_id,
            "owner": {"pid": pid, "start": _process_start(pid)},
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "pipelines": run_params.get("pipeline_names"),
            "env": run_params.get("env"),
            "entries": entries,
        }
        _write_json(self.file, journal)  # on disk before anything moves: a crash from here on is undone
        backups.mkdir()
        for entry in entries:
            target = Path(entry["path"])
            if entry["kind"] == "file" and target.is_dir():
                shutil.copytree(target, entry["backup"], symlinks=True)
            elif entry["kind"] == "file" and (target.exists() or target.is_symlink()):
                shutil.copy2(target, entry["backup"], follow_symlinks=False)

    def commit(self) -> None:
        """The run succeeded: its outputs are final; drop the previous files and the journal."""
        self.file.unlink()
        shutil.rmtree(self.folder, ignore_errors=True)

    def rollback(self) -> list[str]:
        """Undo the run (idempotent, so a rollback cut short is finished by the next one); returns what was undone."""
        undone = []
        for entry in reversed(self.read()["entries"]):
            target = Path(entry["path"])
            backup = Path(entry["backup"]) if entry.get("backup") else None
            if backup is not None and (backup.exists() or backup.is_symlink()):
                _remove(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(backup, target)
                undone.append(f"{target} (restored)")
            elif target.exists() or target.is_symlink():
                _remove(target)
                undone.append(f"{target} (removed)")
        self.commit()
        return undone


def recover(root: Path) -> None:
    """Roll back every journal whose run died; leave live runs' journals alone."""
    for journal in RunJournal.open_all(root):
        try:
            state = journal.read()
        except (OSError, ValueError):  # journal.json is written whole (os.replace), so this is someone's damage
            logger.error("Run journal %s cannot be read: outputs listed there may be partial", journal.file)
            continue
        if journal.owner_alive():
            continue
        undone = journal.rollback()
        logger.warning(
            "Run %s (pid %s, started %s) did not finish: rolled back its %d output(s) so the last successful "
            "run's outputs are what every pipeline reads",
            state["run_id"],
            state["owner"]["pid"],
            state["started"],
            len(undone),
        )
        for line in undone:
            logger.info("  %s", line)


class RunJournalHook:
    """Make every ``kedro run`` all-or-nothing (see the module docstring)."""

    def __init__(self) -> None:
        self._journal: RunJournal | None = None
        self._root: Path = JOURNAL_DIR
        self._lock = threading.Lock()

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._root = Path(context.project_path) / JOURNAL_DIR
        recover(self._root)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog) -> None:
        recover(self._root)  # sessions built without a context hook call (tests) recover here
        entries = output_entries(catalog, pipeline.all_outputs())
        self._check_live_runs(entries, catalog, pipeline)
        journal = RunJournal(self._root / run_params["run_id"].replace(":", "-"))
        journal.begin(run_params["run_id"], entries, run_params)
        self._journal = journal

    def _check_live_runs(self, entries: list[dict[str, str]], catalog: DataCatalog, pipeline: Pipeline) -> None:
        writes = {entry["path"] for entry in entries}
        reads = {entry["path"] for entry in output_entries(catalog, pipeline.inputs())}
        for journal in RunJournal.open_all(self._root):
            other = journal.read()
            theirs = {entry["path"] for entry in other["entries"]}
            if clash := sorted(writes & theirs):
                raise RuntimeError(
                    f"Run {other['run_id']} (pid {other['owner']['pid']}) is still running and writes "
                    f"{len(clash)} of this run's outputs (first: {clash[0]}): wait for it, or stop it"
                )
            if unfinished := sorted(reads & theirs):
                logger.warning(
                    "Run %s (pid %s) is still running: this run reads %d of its unfinished outputs (first: %s)",
                    other["run_id"],
                    other["owner"]["pid"],
                    len(unfinished),
                    unfinished[0],
                )

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], run_result: Any, pipeline: Any, catalog: Any) -> None:
        with self._lock:
            if self._journal is not None:
                self._journal.commit()
                self._journal = None

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        with self._lock:
            if self._journal is None:
                return
            with contextlib.suppress(FileNotFoundError):
                undone = self._journal.rollback()
                logger.warning(
                    "Run failed: rolled back its %d output(s); the last successful run's outputs stay", len(undone)
                )
            self._journal = None
