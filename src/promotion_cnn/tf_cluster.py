"""The tf.distribute cluster this process belongs to (``TF_CONFIG``), and the rule that only its chief saves.

``TF_CONFIG`` is TensorFlow's own description of a multi-worker cluster, one JSON value per machine, e.g.
``{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 1}}``. The chief
is the task of type ``chief``, or worker 0 when the cluster has no ``chief`` (TensorFlow's rule).

``ChiefOnlyOutputsHook`` (registered in ``settings.py``): in a ``kedro run`` on a worker that is not the chief,
every output of the run is kept in memory (a ``MemoryDataset``) instead of its catalog entry, so the run computes
what the chief computes (the collective steps need every worker) and writes nothing: no file, no run journal.
No TensorFlow import here.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import MemoryDataset

logger = logging.getLogger(__name__)

TASK_TYPES = ("chief", "worker")


class ClusterConfigError(ValueError):
    """``TF_CONFIG`` is missing where it is needed, is not JSON, or does not describe this task in its cluster."""


def cluster_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any] | None:
    """This process's ``TF_CONFIG``, checked (cluster of chief/worker addresses, task in it); None when unset."""
    text = environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClusterConfigError(f"TF_CONFIG is not JSON ({error}): {text[:200]!r}") from None
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster.get("worker") and not cluster.get("chief"):
        raise ClusterConfigError(f"TF_CONFIG needs a 'cluster' with a 'worker' (or 'chief') address list: {text[:200]}")
    if not isinstance(task, dict) or task.get("type") not in TASK_TYPES or not isinstance(task.get("index"), int):
        raise ClusterConfigError(f"TF_CONFIG needs a 'task' {{'type': chief | worker, 'index': int}}: {text[:200]}")
    if not 0 <= task["index"] < len(cluster.get(task["type"], [])):
        raise ClusterConfigError(
            f"TF_CONFIG task {task['type']} {task['index']} is not in its cluster "
            f"({len(cluster.get(task['type'], []))} {task['type']} address(es))"
        )
    return config


def is_chief(config: dict[str, Any] | None) -> bool:
    """Whether this task saves: the ``chief``, else worker 0 of a cluster without one; True without a cluster."""
    if config is None:
        return True
    task = config["task"]
    if task["type"] == "chief":
        return True
    return "chief" not in config["cluster"] and task["index"] == 0


def describe_task(config: dict[str, Any]) -> str:
    """``worker 1 of 2`` (chief included in the count)."""
    tasks = sum(len(config["cluster"].get(kind, [])) for kind in TASK_TYPES)
    return f"{config['task']['type']} {config['task']['index']} of {tasks}"


def keep_outputs_in_memory(catalog: Any, names: set[str]) -> list[str]:
    """Replace the catalog entries of ``names`` (a run's outputs) by MemoryDatasets; returns the names, sorted."""
    catalog_logger = logging.getLogger("kedro.io.data_catalog")
    level = catalog_logger.level
    catalog_logger.setLevel(logging.ERROR)  # one "Replacing dataset" warning per output: the line below says it
    try:
        for name in sorted(names):
            catalog[name] = MemoryDataset(copy_mode="assign")
    finally:
        catalog_logger.setLevel(level)
    return sorted(names)


class ChiefOnlyOutputsHook:
    """On a tf.distribute worker that is not the chief (``TF_CONFIG``), the run's outputs stay in memory."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        config = cluster_config()
        if is_chief(config):
            return
        kept = keep_outputs_in_memory(catalog, set(pipeline.all_outputs()))
        logger.warning(
            "TF_CONFIG: this process is %s, not the chief: its %d output(s) stay in memory and nothing is saved "
            "(the chief's run saves them)",
            describe_task(config),
            len(kept),
        )
