"""Self-describing model artifacts: each saved model carries its description and the run version that made it.

- ``StampedPickleDataset`` / ``StampedJSONDataset``: a dict (the recommender, its summary) stamped with
  ``version``, the run that saved it.
- ``ImageModelDataset``: one ``.keras`` file holding the network (preprocessing inside) and, as an extra
  ``promotion_cnn.json`` entry of the same zip archive, its description: class names, input sizes, the run
  version. Keras ignores the extra entry, so the file stays a plain Keras model for any other tool.

Loading returns the description beside the model, so a consumer never pairs a model with another run's metadata.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version, get_filepath_str, get_protocol_and_path
from kedro_datasets.json import JSONDataset
from kedro_datasets.pickle import PickleDataset

DESCRIPTION_ENTRY = "promotion_cnn.json"


class StampedPickleDataset(PickleDataset):
    """A ``pickle.PickleDataset`` of a dict, with ``version`` (the saving run's timestamp) stored in the dict."""

    def save(self, data: dict[str, Any]) -> None:
        super().save({**data, "version": self.resolve_save_version() or "unversioned"})


class StampedJSONDataset(JSONDataset):
    """A ``json.JSONDataset`` of a dict, with ``version`` (the saving run's timestamp) stored in the dict."""

    def save(self, data: dict[str, Any]) -> None:
        super().save({**data, "version": self.resolve_save_version() or "unversioned"})


class ImageModelDataset(AbstractVersionedDataset[dict, dict]):
    """A trained image model as ``{"model": keras.Model, **description}``, stored as one ``.keras`` file.

    Save a dict with the Keras ``model`` and JSON-serialisable description fields (``classes``, ``image_size``,
    ``eval_image_size``, ...); ``version`` is added from the save version. Loading returns the same dict.
    """

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(credentials or {}), **(fs_args or {}))
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path), version=version, exists_function=self._fs.exists, glob_function=self._fs.glob
        )

    def load(self) -> dict[str, Any]:
        import keras

        path = get_filepath_str(self._get_load_path(), self._protocol)
        with tempfile.TemporaryDirectory(prefix="image-model-") as tmp:
            local = Path(tmp) / "model.keras"
            self._fs.get(path, str(local))
            with zipfile.ZipFile(local) as archive:
                if DESCRIPTION_ENTRY not in archive.namelist():
                    raise ValueError(
                        f"{path} is a Keras model without the project's description ({DESCRIPTION_ENTRY}): "
                        "it was not saved by image_modelling; retrain it"
                    )
                description = json.loads(archive.read(DESCRIPTION_ENTRY))
            model = keras.models.load_model(local, compile=False)
        return {**description, "model": model}

    def save(self, data: dict[str, Any]) -> None:
        path = get_filepath_str(self._get_save_path(), self._protocol)
        description = {k: v for k, v in data.items() if k != "model"}
        description["version"] = self.resolve_save_version() or "unversioned"
        with tempfile.TemporaryDirectory(prefix="image-model-") as tmp:
            local = Path(tmp) / "model.keras"
            data["model"].save(local)
            with zipfile.ZipFile(local, "a") as archive:
                archive.writestr(DESCRIPTION_ENTRY, json.dumps(description, indent=1))
            self._fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
            self._fs.put(str(local), path)
        self._invalidate_cache()

    def _exists(self) -> bool:
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:  # versioned, and no version saved yet
            return False
        return self._fs.exists(load_path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def _release(self) -> None:
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))
