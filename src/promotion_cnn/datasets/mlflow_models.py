"""Models from the MLflow registry as catalog datasets: ``models:/<name>@champion`` or a pinned version.

``RegisteredRecommenderDataset`` loads the recommender a successful ``tabular_modelling`` run registered (the pyfunc model's
``recommender.pkl``): the same dict as the ``recommender`` entry, with ``version`` naming the registered model and
version (``promotion_recommender/3``), so ``promotion_recommendations.model_version`` says which one scored.
Read-only; the default catalog keeps the file-based ``recommender`` (offline, no registry needed).
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


def resolve_model_uri(model_uri: str, tracking_uri: str | None = None) -> tuple[str, str]:
    """``models:/name@alias`` or ``models:/name/version`` as (name, version number)."""
    from mlflow.tracking import MlflowClient

    if not model_uri.startswith("models:/"):
        raise DatasetError(f"model_uri must be models:/<name>@<alias> or models:/<name>/<version>, got {model_uri!r}")
    path = model_uri.removeprefix("models:/")
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    if "@" in path:
        name, alias = path.split("@", 1)
        return name, str(client.get_model_version_by_alias(name, alias).version)
    name, _, number = path.partition("/")
    return name, str(client.get_model_version(name, number).version)


def download_uri(name: str, number: str, tracking_uri: str | None = None) -> str:
    """Where a registered version's files are, asked of this store (not of MLflow's global registry URI)."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri).get_model_version_download_uri(
        name, number
    )


def load_registered_recommender(
    model_uri: str, tracking_uri: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The recommender dict of a registered pyfunc model and its scoring parameters."""
    import json

    import mlflow

    name, number = resolve_model_uri(model_uri, tracking_uri)
    with tempfile.TemporaryDirectory(prefix="registered-") as tmp:
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=download_uri(name, number, tracking_uri), dst_path=tmp, tracking_uri=tracking_uri
            )
        )
        pickles, parameters = list(local.rglob("recommender.pkl")), list(local.rglob("scoring_parameters.json"))
        if not pickles:
            raise DatasetError(f"{model_uri} ({name} version {number}) holds no recommender.pkl: not a recommender")
        recommender = pickle.loads(pickles[0].read_bytes())
        params = json.loads(parameters[0].read_text()) if parameters else {}
    recommender = {**recommender, "kedro_version": recommender.get("version"), "version": f"{name}/{number}"}
    return recommender, params


class RegisteredRecommenderDataset(AbstractDataset[None, dict]):
    """The recommender of the MLflow registry (read-only), e.g. ``model_uri: models:/promotion_recommender@champion``."""

    def __init__(
        self, *, model_uri: str, tracking_uri: str | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        self._model_uri = model_uri
        self._tracking_uri = tracking_uri
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        return load_registered_recommender(self._model_uri, self._tracking_uri)[0]

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._model_uri} is read-only: the registry gets new versions from tabular_modelling")

    def _describe(self) -> dict[str, Any]:
        return {"model_uri": self._model_uri, "tracking_uri": self._tracking_uri}


class RegisteredImageModelsDataset(AbstractDataset[None, dict]):
    """Registered CNNs (``cnn_<name>``) in the shape of ``trained_image_models``, for ``image_prediction``.

    ``models``: the image models to offer (default: every registered ``cnn_*``); ``alias`` (``champion``) or
    ``versions`` (``{lenet: 3}``) picks the registered version. Keys are ``<name>/<run version>/trained_model.keras``
    like the folder partitions, so ``image_prediction`` loads the version its validation metrics measured (the
    registered version's ``kedro_version`` tag) and refuses another; each loaded artifact also carries
    ``registered_model`` (``cnn_lenet/3``).
    """

    def __init__(
        self,
        *,
        models: list[str] | None = None,
        alias: str = "champion",
        versions: dict[str, int] | None = None,
        tracking_uri: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._models, self._alias, self._versions = models, alias, versions or {}
        self._tracking_uri = tracking_uri
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        from mlflow.tracking import MlflowClient

        from promotion_cnn.registry import CNN_PREFIX

        client = MlflowClient(tracking_uri=self._tracking_uri, registry_uri=self._tracking_uri)
        names = self._models or sorted(
            m.name.removeprefix(CNN_PREFIX) for m in client.search_registered_models() if m.name.startswith(CNN_PREFIX)
        )
        partitions = {}
        for name in names:
            pinned = self._versions.get(name)
            uri = f"models:/{CNN_PREFIX}{name}/{pinned}" if pinned else f"models:/{CNN_PREFIX}{name}@{self._alias}"
            registered, number = resolve_model_uri(uri, self._tracking_uri)
            tag = client.get_model_version(registered, number).tags.get("kedro_version", number)
            partitions[f"{name}/{tag}/trained_model.keras"] = _image_model_loader(
                registered, number, self._tracking_uri
            )
        return partitions

    def save(self, data: None) -> None:
        raise DatasetError("registered image models are read-only: image_modelling registers new versions")

    def _describe(self) -> dict[str, Any]:
        return {"models": self._models, "alias": self._alias, "versions": self._versions}


def _image_model_loader(name: str, number: str, tracking_uri: str | None) -> Any:
    def load() -> dict[str, Any]:
        import mlflow.keras
        from mlflow.models import Model

        with tempfile.TemporaryDirectory(prefix="registered-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=download_uri(name, number, tracking_uri), dst_path=tmp, tracking_uri=tracking_uri
            )
            description = dict((Model.load(local).metadata or {}).get("promotion_cnn", {}))
            model = mlflow.keras.load_model(local)
        return {**description, "model": model, "registered_model": f"{name}/{number}"}

    return load
