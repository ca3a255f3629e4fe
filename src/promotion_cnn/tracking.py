"""Experiment tracking with MLflow: what one ``kedro run`` logs to its MLflow run (docs/tracking.md).

kedro-mlflow (configured by ``conf/<env>/mlflow.yml``) opens one MLflow run per ``kedro run`` and ends it
``FINISHED`` after a successful run or ``FAILED`` when the run fails. Its hook is registered by ``settings.py`` as
``KedroMlflowRunHook``, without the plugin's per-node parameter logging (one ``mlflow.log_param`` call, one
SQLite transaction, per key of every ``params:`` input of every node: ~0.2 s per node, ~40 s of a default run)
and re-opening the run only before nodes that use kedro-mlflow's datasets (see the class);
``MlflowTrackingHook`` logs every parameter once, in batches. It adds what the project's outputs say, read as
they are saved:

- on the run: every parameter (flattened keys), the git commit, the Kedro pipeline and environment, a fingerprint
  of each raw input (path, rows, hash), per-family and per-CNN headline metrics, and every file saved under
  ``data/08_reporting`` (the HTML report, figures, tables) as an artifact;
- one nested run per namespace (``random_forest``, ``svm``, ..., ``lenet``, ``resnet``, ...): the family's CV and
  test metrics, threshold and fairness figures, or the CNN's per-epoch curves (step = epoch), final and best
  accuracy and images/s; and one nested run per tabular variant (its CV metrics and hyperparameters), so the
  MLflow UI compares families and variants side by side;
- the models (``promotion_cnn.registry``): logged with signature and example, registered, and given the
  ``champion`` alias only once the Kedro run has succeeded.

Every call names its run id (``MlflowClient``), so nothing depends on MLflow's thread-local active run. Logging
problems are logged as warnings and never fail the Kedro run. Without mlflow installed the hook does nothing.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractDataset, AbstractVersionedDataset
from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

from promotion_cnn.datasets.image_folder import ImageSet
from promotion_cnn.tf_cluster import cluster_config, is_chief

logger = logging.getLogger(__name__)

MAX_PARAM_LENGTH = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
REPORTING_DIR = Path("data") / "08_reporting"
PID_TAG = "promotion_cnn.pid"
RAW_INPUTS = ("employees_raw", "employees_to_score", "images_raw", "new_images")
VARIANT_METRICS = ("cv_f1", "cv_roc_auc", "cv_average_precision", "cv_f1_tuned", "train_accuracy", "fit_seconds")
VARIANT_INFO = {"variant", "cv_method", "rows"}


def namespace_item(name: str, node_namespace: str | None, namespaces: tuple[str, ...] = ()) -> tuple[str, str]:
    """A dataset's model namespace and its name there: ``random_forest.model`` inside the namespace, and
    ``test_metrics_random_forest`` mapped out of it (``model_lists.exported``), both belong to ``random_forest``.

    The namespace is the node's (its top level); without a node, one of ``namespaces`` the name ends with."""
    top = (node_namespace or "").split(".")[0]
    candidates = (top,) if top else tuple(sorted(namespaces, key=len, reverse=True))
    for namespace in candidates:
        if name.startswith(f"{namespace}."):
            return namespace, name.removeprefix(f"{namespace}.")
        if name.endswith(f"_{namespace}"):
            return namespace, name.removesuffix(f"_{namespace}")
    namespace, _, item = name.rpartition(".")
    return namespace, item


def project_root() -> str:
    """The project's root folder (``${project_root:}`` in conf/base/mlflow.yml), so MLflow paths do not follow the cwd."""
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            pyproject = folder / "pyproject.toml"
            if pyproject.is_file() and (folder / "conf").is_dir() and "[tool.kedro]" in pyproject.read_text():
                return str(folder)
    return str(Path.cwd().resolve())


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as ``a.b.c`` keys (kedro-mlflow's ``flatten: true`` spelling)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if hasattr(value, "model_dump"):  # a typed parameter block (pydantic): its fields, as in the YAML
            value = value.model_dump(mode="json")
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def param_key(name: str) -> str:
    """A key MLflow accepts (kedro-mlflow's sanitising: other characters become ``_``)."""
    return re.sub(r"[^/\w.\- :]", "_", name)


def table_fingerprint(table: pd.DataFrame) -> str:
    """SHA-256 of a table's values, index and column names (stable across file formats)."""
    digest = hashlib.sha256(",".join(map(str, table.columns)).encode())
    digest.update(pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def numbers(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numeric (non-bool-typed too) entries of a dict, as MLflow metrics."""
    out = {}
    for key, value in values.items():
        if isinstance(value, bool | int | float) and pd.notna(value):
            out[f"{prefix}{key}"] = float(value)
    return out


def git_state(root: str) -> dict[str, str]:
    """The commit checked out at ``root`` and whether the work tree differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if commit.returncode != 0:
        return {}
    return {"mlflow.source.git.commit": commit.stdout.strip(), "git.dirty": str(bool(status.stdout.strip())).lower()}


def saved_file(dataset: AbstractDataset | None) -> Path | None:
    """The local file a dataset has just saved (its new version for a versioned dataset), ``None`` otherwise."""
    for attribute in ("wrapped", "_dataset"):  # OptionalDataset, CachedDataset
        inner = getattr(dataset, attribute, None)
        if isinstance(inner, AbstractDataset):
            dataset = inner
    if dataset is None:
        return None
    described = dataset._describe()
    where = described.get("filepath") or described.get("path")
    if not where or (described.get("protocol") or getattr(dataset, "_protocol", "file")) not in ("file", "local"):
        return None
    if isinstance(dataset, AbstractVersionedDataset) and dataset.resolve_save_version():
        where = dataset._get_versioned_path(dataset.resolve_save_version())
    path = Path(str(where))
    return path if path.is_file() else None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class KedroMlflowRunHook(MlflowHook):
    """kedro-mlflow's hook (the run, its status, the mlflow datasets) without its per-node parameter logging, and
    re-opening the run (``mlflow.start_run``) only before a node that reads or writes one of kedro-mlflow's datasets.

    The plugin re-opens the run before every node, for its datasets, which log to MLflow's active run of the node's
    thread: two ``get_run`` queries (every parameter, metric and tag of the run) and an update each time, 0.1 to
    1.6 s a node as the run grows, ~40 s of a default run. Nothing else here uses the active run (every call of
    ``MlflowTrackingHook`` names its run id)."""

    @hook_impl
    def before_node_run(self, node: Any, catalog: Any, inputs: dict[str, Any], is_async: bool) -> None:
        if any(_is_kedro_mlflow_dataset(catalog, name) for name in (*node.inputs, *node.outputs)):
            super().before_node_run(node, catalog, {}, is_async)  # no inputs: no per-key parameter logging


def _is_kedro_mlflow_dataset(catalog: Any, name: str) -> bool:
    """Whether the catalog's dataset ``name`` is one of kedro-mlflow's (``kedro_mlflow.io...``)."""
    if name.startswith("params:") or name == "parameters":
        return False
    dataset = catalog.get(name)
    return type(dataset).__module__.startswith("kedro_mlflow.")


class MlflowTrackingHook:
    """Logs the run's parameters, inputs, metrics, artifacts and models to the MLflow run kedro-mlflow opened."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._client: Any = None
        self._run_id: str | None = None
        self._children: dict[str, str] = {}
        self._catalog: Any = None
        self._context: Any = None
        self._raw_inputs: set[str] = set()
        self._fingerprints: dict[str, dict[str, Any]] = {}
        self._models: dict[str, Any] = {}
        self._seconds = 0.0
        self._variant_metrics: dict[str, dict[str, float]] = {}

    # ---------- plumbing ----------
    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        """Run an MLflow call; a tracking problem is a warning, never a failed Kedro run."""
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - tracking must not break the run
            logger.warning("MLflow tracking: could not %s: %s", what, error)
            return None
        finally:
            self._seconds += time.perf_counter() - started

    def _child(self, namespace: str, parent: str | None = None, tags: dict[str, str] | None = None) -> str:
        """The nested run of a namespace (or a variant), created on first use."""
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

        with self._lock:
            if namespace not in self._children:
                parent_id = self._children.get(parent) if parent else self._run_id
                experiment = self._client.get_run(self._run_id).info.experiment_id
                run = self._client.create_run(
                    experiment,
                    tags={MLFLOW_PARENT_RUN_ID: parent_id, MLFLOW_RUN_NAME: namespace, **(tags or {})},
                    run_name=namespace,
                )
                self._children[namespace] = run.info.run_id
            return self._children[namespace]

    def _log(self, run_id: str, metrics: dict[str, float] | None = None, params: dict[str, Any] | None = None,
             tags: dict[str, Any] | None = None, step: int = 0) -> None:  # fmt: skip
        from mlflow.entities import Metric, Param, RunTag

        now = _now_ms()
        batch_metrics = [Metric(param_key(k), v, now, step) for k, v in (metrics or {}).items()]
        batch_params = [Param(param_key(k), str(v)[:MAX_PARAM_LENGTH]) for k, v in (params or {}).items()]
        batch_tags = [RunTag(k, str(v)[:5000]) for k, v in (tags or {}).items()]
        for start in range(0, max(len(batch_metrics), len(batch_params), len(batch_tags)), 100):
            self._client.log_batch(
                run_id,
                metrics=batch_metrics[start : start + 100],
                params=batch_params[start : start + 100],
                tags=batch_tags[start : start + 100],
            )

    # ---------- hooks ----------
    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._context = context
        # MLflow gives its logger its own stderr handler: its INFO lines (database set-up, model validation) go to
        # the project's log file instead, its warnings to the console too, through Kedro's handlers.
        mlflow_logger = logging.getLogger("mlflow")
        for handler in list(mlflow_logger.handlers):
            mlflow_logger.removeHandler(handler)
        mlflow_logger.propagate = True

    @hook_impl
    def after_catalog_created(self, catalog: Any) -> None:
        self._catalog = catalog

    # No trylast: kedro-mlflow's hook (a plugin, registered after the project's hooks) is called first and has started
    # the run; this hook runs before ContractHook's input check, so a run refused there is still marked FAILED.
    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        try:
            import mlflow
            from mlflow.tracking import MlflowClient
        except ImportError:
            logger.info("mlflow is not installed: this run is not tracked")
            return
        active = mlflow.active_run()
        if active is None:
            return
        if not is_chief(cluster_config()):  # a tf.distribute worker: the chief's run logs and registers the models
            logger.info("MLflow tracking: not the chief of TF_CONFIG's cluster, this run logs and registers nothing")
            return
        self._client, self._run_id, self._catalog = MlflowClient(), active.info.run_id, catalog
        self._children, self._fingerprints, self._models, self._seconds = {}, {}, {}, 0.0
        self._variant_metrics: dict[str, dict[str, float]] = {}
        self._call("close runs of killed sessions", self._fail_orphans, active.info.experiment_id)
        root = str(run_params.get("project_path") or project_root())
        pipelines = run_params.get("pipeline_names") or [run_params.get("pipeline_name") or "__default__"]
        env = run_params.get("env") or getattr(self._context, "env", None) or "local"
        tags = {"kedro.pipeline": "+".join(pipelines), "kedro.env": env, PID_TAG: os.getpid(), **git_state(root)}
        params = flatten(catalog.load("parameters")) if "parameters" in catalog else {}
        self._call("log parameters and tags", self._log, self._run_id, params=params, tags=tags)
        self._raw_inputs = {name for name in pipeline.inputs() if self._is_raw(name)}
        atexit.register(self._fail_unfinished)

    def _fail_unfinished(self) -> None:
        """At exit, a run that neither finished nor failed (refused before its first node) is FAILED, not FINISHED."""
        if self._run_id is None:
            return
        import mlflow

        reason = "the run stopped before its first node: an input or a parameter was refused (see the console)"
        self._call("tag the error", self._log, self._run_id, tags={"error": reason})
        self._finish("FAILED", quiet=True)  # logging is shut down at exit
        mlflow.end_run(status="FAILED")  # before mlflow's own exit handler would end it as FINISHED

    def _is_raw(self, name: str) -> bool:
        """A raw input: one of the project's (``RAW_INPUTS``, whatever a user's catalog says) or in layer ``raw``."""
        dataset = self._catalog.get(name) if name not in RAW_INPUTS and self._catalog is not None else None
        layer = ((getattr(dataset, "metadata", None) or {}).get("kedro-viz") or {}).get("layer")
        return name in RAW_INPUTS or layer == "raw"

    def _fail_orphans(self, experiment_id: str) -> None:
        """Runs left RUNNING by a killed ``kedro run`` (its process gone) are marked FAILED."""
        for run in self._client.search_runs([experiment_id], "attributes.status = 'RUNNING'", max_results=100):
            pid = run.data.tags.get(PID_TAG)
            if run.info.run_id != self._run_id and pid and pid.isdigit() and not _process_alive(int(pid)):
                self._client.set_tag(run.info.run_id, "promotion_cnn.ended", "process died")
                self._client.set_terminated(run.info.run_id, "FAILED")
                logger.info("MLflow run %s of a process that died is marked FAILED", run.info.run_id)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Any) -> None:
        if self._run_id is None or dataset_name not in self._raw_inputs:
            return
        with self._lock:  # ThreadRunner: two nodes may load the same input at once; it is logged once
            if dataset_name not in self._fingerprints:
                self._call(f"fingerprint {dataset_name}", self._fingerprint, dataset_name, data)

    def _fingerprint(self, name: str, data: Any) -> None:
        dataset = self._catalog.get(name)
        description = dataset._describe()
        where = description.get("filepath") or description.get("path") or f"{type(dataset).__name__}({description})"
        entry: dict[str, Any] = {"path": str(where)}
        data = data.files if isinstance(data, ImageSet) else data  # an image set: the table of its files
        if isinstance(data, pd.DataFrame):
            entry.update(rows=len(data), columns=len(data.columns), sha256=table_fingerprint(data))
        self._fingerprints[name] = entry
        self._log(self._run_id, params={f"input.{name}.{key}": value for key, value in entry.items()})

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        if self._run_id is None:
            return
        self._call(f"log {dataset_name}", self._record, dataset_name, data, getattr(node, "namespace", None))

    def _record(self, name: str, data: Any, node_namespace: str | None = None) -> None:
        from promotion_cnn.model_lists import load_model_lists

        models = load_model_lists()
        namespace, item = namespace_item(name, node_namespace, (*models.families, *models.image_models))
        if namespace in models.families:
            if item == "fairness_audit":
                self._record_fairness(namespace, data)
            else:
                self._record_family(namespace, item, data)
        elif item in ("history", "val_metrics", "train_timing") and namespace:
            self._record_cnn(namespace, item, data)
        if item == "trained_model" or name == "recommender":  # registered once the run has succeeded
            dataset = self._catalog.get(name) if self._catalog is not None else None
            stamp = dataset.resolve_save_version() if isinstance(dataset, AbstractVersionedDataset) else None
            self._models[name] = {**data, "version": data.get("version") or stamp or "unversioned"}
        path = saved_file(self._catalog.get(name)) if self._catalog is not None else None
        if path is not None and REPORTING_DIR.as_posix() in path.resolve().as_posix():
            self._log_artifact(path)

    def _log_artifact(self, path: Path) -> None:
        relative = path.resolve().as_posix().split(REPORTING_DIR.as_posix() + "/", 1)[-1]
        parts = [p for p in relative.split("/")[:-1] if not _is_version(p)]
        if parts and parts[-1] == path.name:  # versioned: <name>/<version>/<name>
            parts = parts[:-1]
        self._client.log_artifact(self._run_id, str(path), "/".join(["reporting", *parts]))

    def _record_family(self, family: str, item: str, data: Any) -> None:
        run = self._child(family, tags={"namespace": family, "kind": "tabular_family"})
        if item == "test_metrics":
            metrics = numbers(data, "test_")
            self._log(run, metrics=metrics, tags={"test_variant": data.get("variant", "")})
            self._log(self._run_id, metrics={f"{family}.{k}": v for k, v in metrics.items()})
        elif item == "threshold":
            metrics = {"threshold": float(data["threshold"])}
            if data.get("source") == "out_of_fold":  # precision, recall, F1 at the threshold, cross-validated
                metrics |= {f"cv_{k}_at_threshold": float(data[f"train_{k}"]) for k in ("precision", "recall", "f1")}
            self._log(run, metrics=metrics, params={"threshold_method": data.get("method")})
            self._log(self._run_id, metrics={f"{family}.{k}": v for k, v in metrics.items()})
        elif item == "variant_scores" and isinstance(data, pd.DataFrame):
            for row in data.to_dict("records"):
                variant = str(row["variant"])
                child = self._child(
                    f"{family}/{variant}", parent=family, tags={"family": family, "variant": variant, "kind": "variant"}
                )
                metrics = {k: row[k] for k in VARIANT_METRICS if k in row}
                hyper = {k: v for k, v in row.items() if k not in VARIANT_INFO and k not in metrics and pd.notna(v)}
                self._log(child, metrics=numbers(metrics), params={"family": family, **hyper})
                self._variant_metrics[f"{family}/{variant}"] = numbers(metrics)
        elif item == "selected_variant":
            variant = str(data).strip()
            cv = self._variant_metrics.get(f"{family}/{variant}", {})
            self._log(run, metrics=cv, tags={"selected_variant": variant})
            self._log(self._run_id, metrics={f"{family}.{k}": v for k, v in cv.items()})
            if f"{family}/{variant}" in self._children:
                self._log(self._children[f"{family}/{variant}"], tags={"selected": "true"})

    def _record_fairness(self, family: str, audit: pd.DataFrame) -> None:
        run = self._child(family, tags={"namespace": family, "kind": "tabular_family"})
        metrics: dict[str, float] = {}
        for row in audit.to_dict("records"):
            group = str(row.get("group"))
            for key in ("selection_rate", "recall", "disparate_impact", "recall_difference"):
                if key in row and pd.notna(row[key]):
                    metrics[f"fairness.{group}.{key}"] = float(row[key])
        flagged = bool(audit["flagged"].any()) if "flagged" in audit else False
        self._log(run, metrics=metrics, tags={"fairness_flagged": str(flagged).lower()})
        self._log(self._run_id, metrics={f"{family}.{k}": v for k, v in metrics.items()})

    def _record_cnn(self, arch: str, item: str, data: Any) -> None:
        run = self._child(arch, tags={"namespace": arch, "kind": "cnn"})
        if item == "history" and isinstance(data, pd.DataFrame):
            from mlflow.entities import Metric

            now = _now_ms()
            curves = [c for c in data.columns if c != "epoch"]
            points = [
                Metric(param_key(c), float(row[c]), now, int(row.get("epoch", i + 1)))
                for i, row in enumerate(data.to_dict("records"))
                for c in curves
                if pd.notna(row[c])
            ]
            for start in range(0, len(points), 500):
                self._client.log_batch(run, metrics=points[start : start + 500])
            best = {f"best_{c}": float(data[c].max()) for c in ("val_accuracy", "accuracy") if c in data}
            self._log(run, metrics=best)
            self._log(self._run_id, metrics={f"{arch}.{k}": v for k, v in best.items()})
        elif item == "val_metrics":
            metrics = numbers(data, "final_")
            self._log(run, metrics=metrics, tags={"model_version": data.get("model_version", "")})
            self._log(self._run_id, metrics={f"{arch}.{k}": v for k, v in metrics.items()})
        elif item == "train_timing":
            metrics = numbers(data)
            self._log(run, metrics=metrics)
            if "images_per_second" in metrics:
                self._log(self._run_id, metrics={f"{arch}.images_per_second": metrics["images_per_second"]})

    @hook_impl(tryfirst=True)  # before kedro-mlflow's hook ends the run
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self._run_id is None:
            return
        self._call("log the input fingerprints", self._log_json, self._fingerprints, "inputs.json")
        if self._models:
            from promotion_cnn import registry

            self._call("log and register the models", registry.log_and_register, self._client, self, self._models)
        self._finish("FINISHED")

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self._run_id is None:
            return
        self._call("tag the error", self._log, self._run_id, tags={"error": f"{type(error).__name__}: {error}"})
        self._finish("FAILED")

    def _log_json(self, data: Any, name: str) -> None:
        with tempfile.TemporaryDirectory(prefix="mlflow-") as tmp:
            path = Path(tmp) / name
            path.write_text(json.dumps(data, indent=1, default=str))
            self._client.log_artifact(self._run_id, str(path))

    def _finish(self, status: str, quiet: bool = False) -> None:
        for run_id in self._children.values():
            self._call("end a nested run", self._client.set_terminated, run_id, status)
        if quiet:
            self._run_id = None
            return
        logger.info(
            "MLflow run %s: %s, %d nested run(s), %.1f s of tracking", self._run_id, status, len(self._children),
            self._seconds,
        )  # fmt: skip
        self._run_id = None


def _is_version(part: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z", part))


def _now_ms() -> int:
    return int(time.time() * 1000)
