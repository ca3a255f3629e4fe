"""The project's structure: no pipeline imports another, and no dataset name read across namespaces has a dot."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest
from kedro.pipeline.node import _DOTTED_DATASET_NAME_WARNED, Node

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "promotion_cnn"
PIPELINES = sorted(p.name for p in (PACKAGE / "pipelines").iterdir() if (p / "__init__.py").is_file())


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """Every module a file imports, absolute, with its line (relative imports resolved against ``package``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]  # from pkg import pipeline
    return found


def cross_pipeline_imports(package_dir: Path = PACKAGE) -> list[str]:
    """``file:line imports module`` for every import of another pipeline package by a pipeline's module."""
    problems = []
    root = package_dir / "pipelines"
    for name in sorted(p.name for p in root.iterdir() if (p / "__init__.py").is_file()):
        for path in sorted((root / name).rglob("*.py")):
            package = ".".join(["promotion_cnn", "pipelines", name, *path.relative_to(root / name).parts[:-1]])
            for line, module in imported_modules(path, package):
                parts = module.split(".")
                if parts[:2] == ["promotion_cnn", "pipelines"] and len(parts) > 2 and parts[2] != name:
                    problems.append(f"{path.relative_to(package_dir.parent).as_posix()}:{line} imports {module}")
    return problems


def test_the_pipelines_are_found():
    assert PIPELINES == [
        "data_processing",
        "image_modelling",
        "image_prediction",
        "promotion_scoring",
        "reporting",
        "tabular_modelling",
    ]


def test_no_pipeline_imports_another():
    """Code two pipelines share lives beside ``pipelines/`` (``promotion_cnn.tabular``, ``promotion_cnn.images``)."""
    assert cross_pipeline_imports() == []


def test_the_check_sees_absolute_and_relative_imports(tmp_path):
    fake = tmp_path / "promotion_cnn"
    for name, code in {
        "a": "from promotion_cnn.pipelines.b.nodes import f\nfrom . import nodes\n",
        "b": "from ..a import pipeline\nimport promotion_cnn.pipelines.a.nodes\nfrom promotion_cnn.pipelines import a\n",
    }.items():
        (fake / "pipelines" / name).mkdir(parents=True)
        (fake / "pipelines" / name / "__init__.py").write_text("")
        (fake / "pipelines" / name / "nodes.py").write_text(code)
    problems = cross_pipeline_imports(fake)
    assert [p.split(" imports ")[-1] for p in problems] == [
        "promotion_cnn.pipelines.b.nodes",
        "promotion_cnn.pipelines.b.nodes.f",
        "promotion_cnn.pipelines.a",
        "promotion_cnn.pipelines.a.pipeline",
        "promotion_cnn.pipelines.a.nodes",
        "promotion_cnn.pipelines.a",
    ]
    assert problems[0].startswith("promotion_cnn/pipelines/a/nodes.py:1")


@pytest.fixture
def registered_pipelines():
    from kedro.framework.project import configure_project

    configure_project("promotion_cnn")
    from promotion_cnn.pipeline_registry import register_pipelines

    return register_pipelines


def test_building_every_pipeline_gives_no_dotted_name_warning(registered_pipelines, monkeypatch):
    """Kedro 1.7 warns once per process when a node reads or writes a dotted name outside its namespace."""
    monkeypatch.setattr(Node, _DOTTED_DATASET_NAME_WARNED, False, raising=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="One or more dataset names contain '.' characters")
        pipelines = registered_pipelines()
    assert set(pipelines) == {*PIPELINES, "__default__"}


def test_names_leaving_a_namespace_follow_one_convention(registered_pipelines):
    """Inside a namespace ``<namespace>.<name>``; read across namespaces ``<name>_<namespace>``, never a dot."""
    outside = {
        (node.name, name)
        for node in registered_pipelines()["__default__"].nodes
        for name in (*node.inputs, *node.outputs)
        if "." in name
        and not name.startswith("params:")
        and not (node.namespace and name.startswith(node.namespace.split(".")[0] + "."))
    }
    assert outside == set()
