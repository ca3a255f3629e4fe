"""What `kedro run` shows on the console: one line per stage, a live progress bar, and a closing summary.

Full detail (Kedro's per-dataset and per-node lines, every project INFO line, per-node seconds) goes to the
log file set in ``conf/logging.yml`` (``logs/kedro_run.log``); the console handler there shows warnings and
errors from every logger, and INFO only from the ``promotion_cnn.run`` logger used here.

- ``RunProgressHook``: one line for every node that took ``SLOW_NODE_SECONDS`` or more (training, the
  cross-validated variants, ...), and one line per stage (a registered pipeline: ``data_processing``,
  ``tabular_modelling``, ...) when its last node of the run finishes, with its nodes and seconds. On a terminal
  a transient rich progress bar shows the nodes done, the node running and its elapsed time (nothing is drawn
  when the output is a file or a pipe, so a log file gets only the lines).
- ``RunSummaryHook``: after a successful run, where the report is, the recommender and its test F1, the best
  CNN by validation accuracy, read back from the datasets the run saved.

This module imports neither TensorFlow nor pipeline code, so registering the hooks keeps settings light.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger("promotion_cnn.run")  # the console shows this logger's INFO lines
node_logger = logging.getLogger("promotion_cnn.run_timing")  # per-node seconds: log file only

# A node belongs to the first of these registered pipelines that holds it (the modelling pipelines also hold
# the processing nodes; reporting holds the per-model figures, which share the models' namespaces).
STAGE_ORDER = (
    "data_processing",
    "reporting",
    "image_prediction",
    "promotion_scoring",
    "tabular_modelling",
    "image_modelling",
)
SLOW_NODE_SECONDS = 5.0
LOG_FILE = "logs/kedro_run.log"


def _registered_pipelines() -> dict[str, Any]:
    try:
        from kedro.framework.project import pipelines

        return {name: pipelines[name] for name in STAGE_ORDER if name in pipelines}
    except Exception:  # outside a Kedro project (tests building a session by hand): stages by namespace only
        return {}


def node_stages(nodes: list[Any], registered: dict[str, Any]) -> dict[str, str]:
    """Node name -> stage: the first pipeline of ``STAGE_ORDER`` that holds the node (``other`` if none)."""
    members = {name: {node.name for node in pipeline.nodes} for name, pipeline in registered.items()}
    return {
        node.name: next((name for name in STAGE_ORDER if node.name in members.get(name, ())), "other") for node in nodes
    }


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 600 else f"{value / 60:.1f} min"


class RunProgressHook:
    """One console line per finished stage; a transient progress bar on a terminal; per-node seconds in the log."""

    def __init__(self) -> None:
        self._active = False
        self._progress: Any = None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        self._stages = node_stages(list(pipeline.nodes), _registered_pipelines())
        self._left = Counter(self._stages.values())
        self._stage_seconds: Counter = Counter()
        self._n_nodes, self._done = len(self._stages), 0
        self._start, self._active = time.perf_counter(), True
        self._node_start: dict[str, float] = {}
        logger.info("kedro run: %d nodes in %d stages; full log: %s", self._n_nodes, len(self._left), LOG_FILE)
        self._start_bar()

    def _start_bar(self) -> None:
        try:
            import rich
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            console = rich.get_console()  # the console kedro's RichHandler writes to: log lines print above the bar
            if not console.is_terminal or console.is_dumb_terminal:
                return
            self._progress = Progress(
                TextColumn("[bold]{task.fields[node]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("nodes"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._task = self._progress.add_task("run", total=self._n_nodes, node="")
            self._progress.start()
        except Exception:  # a progress bar is a nicety: never fail a run for it
            self._progress = None

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        if not self._active:  # e.g. a ParallelRunner worker process: no run state here
            return
        self._node_start[node.name] = time.perf_counter()
        if self._progress is not None:
            self._progress.update(self._task, node=node.name[-60:])

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        if not self._active or node.name not in self._stages:
            return
        seconds = time.perf_counter() - self._node_start.pop(node.name, time.perf_counter())
        node_logger.info("node %s: %.2f s", node.name, seconds)
        stage = self._stages[node.name]
        self._stage_seconds[stage] += seconds
        self._left[stage] -= 1
        self._done += 1
        if self._progress is not None:
            self._progress.update(self._task, completed=self._done)
        if seconds >= SLOW_NODE_SECONDS:
            logger.info("[%3d/%d]   %-44s %s", self._done, self._n_nodes, node.name, _seconds(seconds))
        if self._left[stage] == 0:
            logger.info("[%3d/%d] %s done: %s", self._done, self._n_nodes, stage, _seconds(self._stage_seconds[stage]))

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self._active = False

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self._active:
            logger.info("Run finished: %d nodes in %s", self._n_nodes, _seconds(time.perf_counter() - self._start))
        self._stop()

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        self._stop()


def _load_path(catalog: Any, name: str) -> str | None:
    """The file a (possibly versioned) dataset loads from now, relative to the project where possible."""
    try:
        dataset = catalog.get(name)
        path = dataset._get_load_path() if hasattr(dataset, "_get_load_path") else dataset._filepath
        return os.path.relpath(path) if str(path).startswith(os.getcwd()) else str(path)
    except Exception:
        return None


class RunSummaryHook:
    """After a successful run, log where the report is, the recommender's F1 and the best CNN."""

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        outputs = pipeline.all_outputs()
        lines = []
        if "study_report" in outputs and (path := _load_path(catalog, "study_report")):
            lines.append(f"report: {path}")
        if "best_tabular_model" in outputs:
            try:
                best = catalog.load("best_tabular_model")
                test = best.get("test_metrics", {})
                threshold = best.get("threshold", {})
                threshold = threshold.get("threshold") if isinstance(threshold, dict) else threshold
                lines.append(
                    f"recommender: {best['family']}/{best['variant']}, test F1 {test.get('f1', float('nan')):.3f}"
                    + (f" at threshold {threshold:.3f}" if isinstance(threshold, int | float) else "")
                )
            except Exception as error:  # a summary never fails a finished run
                logger.debug("No recommender summary: %s", error)
        if "image_runs" in outputs:
            try:
                runs = catalog.load("image_runs").dropna(subset=["val_accuracy"])
                if not runs.empty:
                    row = runs.loc[runs["val_accuracy"].idxmax()]
                    lines.append(
                        f"best CNN: {row['model']}, validation accuracy {row['val_accuracy']:.3f}"
                        f" ({len(runs)} CNNs trained)"
                    )
            except Exception as error:
                logger.debug("No image summary: %s", error)
        if "promotion_recommendations" in outputs and (path := _load_path(catalog, "promotion_recommendations")):
            lines.append(f"ranking: {path}")
        if lines:
            logger.info("Summary\n%s", "\n".join("  " + line for line in lines))
