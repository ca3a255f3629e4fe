"""The default pipeline as an Airflow DAG (kedro-airflow): every task can run on a worker of its own.

``kedro airflow create --group-by memory`` (the command docs/scaling.md and the README give) writes the DAG into a
temporary folder from a fresh-clone copy of the project. The test reads the generated file (its tasks, the Kedro
nodes each task runs, the ``>>`` dependencies) and checks it against the project's pipeline and catalog (a
``KedroSession`` of the copy, dataset factories resolved): every node runs in exactly one task, the task graph is
acyclic, every dataset that one task writes and another reads is ordered by the DAG and persisted (a file a new
process can load), and task ids are valid Airflow ids. Airflow itself is not needed (nor installed here).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest
from kedro.io import AbstractDataset, CachedDataset, MemoryDataset
from kedro.pipeline import Pipeline
from support import copy_project, kedro_env

pytest.importorskip("kedro_airflow", reason="the `airflow` (or `test`) extra installs kedro-airflow")

# docs/scaling.md, "A pipeline an orchestrator can run": the command the README gives
CREATE = ("--group-by", "memory", "--jinja-file", "deploy/airflow/dag_template.j2")
AIRFLOW_TASK_ID = re.compile(r"^[\w.-]{1,250}$")  # airflow.utils.helpers.KEY_REGEX and its 250-character limit
SAVE_ONLY = ("MatplotlibDataset",)  # datasets that cannot be loaded back: their data exists only in memory


def parse_dag(path: Path) -> tuple[dict[str, list[str]], set[tuple[str, str]]]:
    """The generated DAG's tasks (task id -> Kedro node names) and its ``upstream >> downstream`` edges."""
    tree = ast.parse(path.read_text())
    tasks: dict[str, list[str]] = {}
    edges: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "task":
                    (task_id,) = (k.value.value for k in decorator.keywords if k.arg == "task_id")
                    (call,) = (
                        c
                        for c in ast.walk(node)
                        if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "_run_kedro_node"
                    )
                    ((kind, names),) = (
                        (k.arg, k.value) for k in call.keywords if k.arg in ("node_names", "namespaces")
                    )
                    prefix = "" if kind == "node_names" else "namespace:"  # --group-by namespace: whole namespaces
                    tasks[task_id] = [prefix + element.value for element in names.elts]
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
            upstream, downstream = (side.slice.value for side in (node.left, node.right))
            edges.add((upstream, downstream))
    return tasks, edges


def _base(name: str) -> str:
    return name.split("@")[0]  # transcoding: image_samples_train@figure and @image are one dataset to Kedro


def in_memory(catalog, name: str) -> bool:
    """Whether a new process could not load ``name`` from what another process saved."""
    dataset: AbstractDataset | None = catalog.get(name) if name in catalog else None  # not in it: a MemoryDataset
    while True:
        if dataset is None or isinstance(dataset, MemoryDataset) or type(dataset).__name__ in SAVE_ONLY:
            return True
        if isinstance(dataset, CachedDataset):
            dataset = dataset._dataset
        elif hasattr(dataset, "wrapped"):  # OptionalDataset
            dataset = dataset.wrapped
        else:
            return False


def crossing_problems(pipeline: Pipeline, catalog, tasks: dict[str, list[str]], edges: set[tuple[str, str]]) -> list:
    """What keeps the DAG from running each task on its own worker (empty when it can)."""
    problems = []
    namespaces = {node.namespace.split(".")[0]: [] for node in pipeline.nodes if node.namespace}
    for node in pipeline.nodes:
        namespaces.get((node.namespace or "").split(".")[0], []).append(node.name)
    tasks = {
        task: [n for name in nodes for n in namespaces.get(name[10:], [name]) if n] for task, nodes in tasks.items()
    }
    task_of = {node: task for task, nodes in tasks.items() for node in nodes}
    names = {node.name for node in pipeline.nodes}
    if sorted(task_of) != sorted(names) or sum(len(nodes) for nodes in tasks.values()) != len(names):
        problems.append(("nodes not run exactly once", sorted(names ^ set(task_of))))
    problems += [("invalid Airflow task id", task) for task in tasks if not AIRFLOW_TASK_ID.match(task)]
    graph = {task: set() for task in tasks}
    for upstream, downstream in edges:
        graph[downstream].add(upstream)
    ancestors: dict[str, set[str]] | None = {}
    try:
        for task in TopologicalSorter(graph).static_order():
            ancestors[task] = set().union(*({parent} | ancestors[parent] for parent in graph[task]))
    except CycleError as error:
        problems.append(("cycle between tasks", error.args[1]))
        ancestors = None
    producer = {_base(out): (node.name, out) for node in pipeline.nodes for out in node.outputs}
    for node in pipeline.nodes:
        for name in node.inputs:
            if _base(name) not in producer:
                continue  # a free input: loaded from the catalog (raw data, parameters, earlier runs' models)
            source, written = producer[_base(name)]
            upstream, downstream = task_of.get(source), task_of.get(node.name)
            if upstream == downstream:
                continue
            if ancestors is not None and upstream not in ancestors.get(downstream, set()):
                problems.append(("read before it is written", name, upstream, downstream))
            # the reader's dataset must load what another process wrote (transcoded: written@x is saved, read@y loads)
            unsaved = written != name and (written not in catalog or isinstance(catalog.get(written), MemoryDataset))
            if in_memory(catalog, name) or unsaved:
                problems.append(("in memory across tasks", name, upstream, downstream))
    return problems


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("airflow") / "project")
    dags = project.parent / "dags"
    command = [sys.executable, "-m", "kedro", "airflow", "create", *CREATE, "--target-dir", str(dags)]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, env=kedro_env(project), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return project


@pytest.fixture(scope="module")
def project_pipeline_and_catalog(generated):
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(generated)
    with KedroSession.create(project_path=generated) as session:
        catalog = session.load_context().catalog
    return pipelines["__default__"], catalog


def test_the_default_dag_runs_each_task_on_a_worker_of_its_own(generated, project_pipeline_and_catalog):
    (dag,) = (generated.parent / "dags").glob("*.py")
    assert dag.name == "promotion_cnn_dag.py"
    tasks, edges = parse_dag(dag)
    pipeline, catalog = project_pipeline_and_catalog
    assert len(tasks) > 1 and edges
    assert crossing_problems(pipeline, catalog, tasks, edges) == []
