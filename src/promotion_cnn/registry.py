"""The MLflow model registry: the recommender and each trained CNN, logged as MLflow models and registered.

Called by ``MlflowTrackingHook`` once a Kedro run has succeeded (a failed run registers nothing):

- the recommender as a pyfunc model (``promotion_recommender``): raw employees in, ranked recommendations out,
  with the batch scoring nodes and their parameters (``promotion_cnn.serving.RecommenderPyfunc``, logged from code:
  ``serving/recommender_model.py``, nothing pickled but the recommender; the package travels in the model's
  ``code/``), a signature and a synthetic input example (never real employees' rows);
- each trained CNN as a Keras model (``cnn_<name>``, e.g. ``cnn_lenet``) with a signature and example, its
  description (classes, input sizes, run version) in the model's metadata.

Each new version gets the ``champion`` alias, and the Kedro run version as the tag ``kedro_version``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RECOMMENDER = "promotion_recommender"
CNN_PREFIX = "cnn_"
CHAMPION = "champion"
EXAMPLE_ROWS = 5


def requirements(*packages: str) -> list[str]:
    """Pinned requirements of a logged model (listed, not inferred: inference loads the model in a subprocess)."""
    pinned = []
    for package in ("mlflow", "kedro", "pandas", "numpy", *packages):
        with contextlib.suppress(PackageNotFoundError):
            pinned.append(f"{package}=={version(package)}")
    return pinned


@contextlib.contextmanager
def active_run(run_id: str) -> Iterator[None]:
    """``run_id`` as MLflow's active run (already active: left open; otherwise ended on exit)."""
    import mlflow

    current = mlflow.active_run()
    if current is not None and current.info.run_id == run_id:
        yield
        return
    with mlflow.start_run(run_id=run_id, nested=current is not None):
        yield


def register(client: Any, model_uri: str, name: str, tags: dict[str, str]) -> str:
    """Register a logged model and point the ``champion`` alias at the new version."""
    import mlflow

    with contextlib.redirect_stderr(io.StringIO()) as printed:  # MLflow prints "Successfully registered ..."
        registered = mlflow.register_model(model_uri, name, tags=tags)
    for line in printed.getvalue().splitlines():
        logger.debug("MLflow: %s", line)
    client.set_registered_model_alias(name, CHAMPION, registered.version)
    logger.info("Registered %s version %s (alias %s)", name, registered.version, CHAMPION)
    return str(registered.version)


def example_employees(parameters: dict[str, Any]) -> Any:
    """A few generated employees in the raw scoring schema (no target): the model's input example."""
    from promotion_cnn.datasets import generate_employees

    table = generate_employees(EXAMPLE_ROWS, seed=0)
    target = (parameters.get("params:employees_schema") or {}).get("target")
    return table.drop(columns=[target]) if target in table.columns else table


def _signature(example: Any, output: Any) -> Any:
    """MLflow's signature of the recommender's input and output examples."""
    from mlflow.models import infer_signature

    with warnings.catch_warnings():
        # MLflow's hint that integer columns cannot hold missing values: the example's one column that may be
        # missing in the raw schema (previous_year_rating, filled by the cleaning) is a float already
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
        return infer_signature(example, output)


def log_recommender(client: Any, run_id: str, recommender: dict[str, Any], parameters: dict[str, Any]) -> str:
    """Log the recommender as a pyfunc model (scoring included) on ``run_id``, register it; the new version."""
    import mlflow

    import promotion_cnn
    from promotion_cnn.serving.scorer import RecommenderScorer, scoring_parameters

    scorer = RecommenderScorer(recommender, scoring_parameters(parameters))  # version: stamped by the hook
    example = example_employees(scorer.parameters)
    output = scorer.score(example, source="the input example")
    with tempfile.TemporaryDirectory(prefix="recommender-") as tmp, active_run(run_id):
        info = mlflow.pyfunc.log_model(
            name="recommender",
            python_model=str(Path(promotion_cnn.__file__).parent / "serving" / "recommender_model.py"),
            artifacts=scorer.save(Path(tmp)),
            code_paths=[str(Path(promotion_cnn.__file__).parent)],
            signature=_signature(example, output),
            input_example=example,
            pip_requirements=requirements("scikit-learn"),
            metadata={
                "family": recommender["family"],
                "variant": recommender["variant"],
                "kedro_version": scorer.version,
            },
        )
    tags = {"kedro_version": scorer.version, "model": scorer.model}
    return register(client, info.model_uri, RECOMMENDER, tags)


def log_cnn(client: Any, run_id: str, name: str, artifact: dict[str, Any]) -> str:
    """Log a trained CNN as a Keras model on ``run_id`` (its nested run), register it; the new version."""
    import mlflow
    import numpy as np
    from mlflow.models import infer_signature

    height, width = _size(artifact.get("eval_image_size") or artifact.get("image_size"))
    example = np.zeros((1, height, width, 3), dtype="float32")  # raw pixels: the model rescales itself
    output = np.asarray(artifact["model"](example, training=False))  # eager: no predict function to trace
    description = {k: v for k, v in artifact.items() if k != "model"}
    with active_run(run_id):
        # mlflow 3.17's keras flavour writes input_example.json before it creates the model folder
        # (FileNotFoundError): the example is logged beside the model instead (<name>_input_example.json).
        info = mlflow.keras.log_model(
            artifact["model"],
            name=name,
            signature=infer_signature(example, output),
            pip_requirements=requirements("keras", "tensorflow"),
            metadata={"promotion_cnn": description},
        )
        mlflow.log_dict({"inputs": example.tolist()}, f"{name}_input_example.json")
    tags = {"kedro_version": str(artifact.get("version", "unsaved")), "model": name}
    return register(client, info.model_uri, CNN_PREFIX + name, tags)


def _size(size: Any) -> tuple[int, int]:
    if isinstance(size, int | float):
        return int(size), int(size)
    return int(size[0]), int(size[1])


def log_and_register(client: Any, hook: Any, models: dict[str, Any]) -> dict[str, str]:
    """Every model the run saved, logged and registered: ``{registered name: version}``."""
    registered = {}
    parameters = hook._catalog.load("parameters")
    for dataset, data in sorted(models.items()):
        try:
            if dataset == "recommender":
                registered[RECOMMENDER] = log_recommender(client, hook._run_id, data, parameters)
            else:
                name = dataset.rpartition(".")[0]
                registered[CNN_PREFIX + name] = log_cnn(client, hook._child(name), name, data)
        except Exception as error:  # noqa: BLE001 - one model's problem does not stop the others
            logger.warning("MLflow registry: could not log %s: %s", dataset, error)
    return registered
