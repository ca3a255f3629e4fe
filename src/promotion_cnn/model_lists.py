"""The project's models, listed once: every tabular family and image model is its own parameter block.

A top-level block of ``conf/base/parameters_tabular_modelling.yml`` with an ``estimator`` is a tabular model
family (its namespace), and says which feature set it is trained on (``feature_set``), whether the min-max + PCA
reducer goes in front of it (``use_reducer``) and whether the recommender may choose it
(``recommender_candidate``). A top-level block of ``conf/base/parameters_image_modelling.yml`` with an
``architecture`` is an image model (its namespace), in the order of the file. ``pipeline_registry`` reads the
lists here and passes them to each pipeline's ``create_pipeline``; nothing else lists models.

The lists come from ``conf/base`` only: namespaces are part of the pipelines' structure, so they are declared in
``conf/base``; an environment (``--env real``, ``quick``, ``local``) tunes a model's block but cannot add or remove
a model. Not to be confused with ``promotion_cnn.registry``, the MLflow model registry.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promotion_cnn.tabular.feature_pipeline import FEATURE_SETS, FULL_FEATURES, STUDY_FEATURES

FAMILY_KEY = "estimator"  # a block with this key is a tabular model family
IMAGE_MODEL_KEY = "architecture"  # a block with this key is an image model


def exported(name: str, namespace: str) -> str:
    """The name a namespace's dataset takes when another namespace or pipeline reads it: ``<name>_<namespace>``
    (``test_metrics_random_forest``, ``val_metrics_lenet``, ``report_section_lenet``). The one convention for every
    dataset mapped out of a namespace: no dataset name read across namespaces contains a dot."""
    return f"{name}_{namespace}"


class ModelListError(ValueError):
    """A model block that cannot be placed in the pipelines; the message names the block and the key."""


@dataclass(frozen=True)
class TabularFamily:
    """What the pipelines' structure needs of one tabular family's block (the rest is its typed parameters)."""

    name: str
    feature_set: str  # "study" (features_train ...) or "full" (full_features_train ...)
    use_reducer: bool  # feature_reducer is an input of this family's nodes
    recommender_candidate: bool  # describe_candidate runs, select_recommender reads candidate_<family>


@dataclass(frozen=True)
class ModelLists:
    """The tabular families (in file order) and the image models (name -> architecture, in file order)."""

    families: Mapping[str, TabularFamily]
    image_models: Mapping[str, str]

    @property
    def recommender_candidates(self) -> tuple[str, ...]:
        return tuple(name for name, family in self.families.items() if family.recommender_candidate)

    def image_models_of(self, architecture: str) -> tuple[str, ...]:
        """The image models built by one architecture (``lenet``: the study's LeNet variant table)."""
        return tuple(name for name, arch in self.image_models.items() if arch == architecture)


def _family(name: str, block: Mapping[str, Any]) -> TabularFamily:
    where = f"parameters: tabular family block '{name}'"
    if "feature_set" not in block:
        raise ModelListError(f"{where} has no feature_set: set it to one of {list(FEATURE_SETS)}")
    feature_set = block["feature_set"]
    if feature_set not in FEATURE_SETS:
        raise ModelListError(f"{where}: feature_set is {feature_set!r}, expected one of {list(FEATURE_SETS)}")
    use_reducer = block.get("use_reducer", True)
    candidate = block.get("recommender_candidate", False)
    for key, value in (("use_reducer", use_reducer), ("recommender_candidate", candidate)):
        if not isinstance(value, bool):
            raise ModelListError(f"{where}: {key} must be true or false, got {value!r}")
    if use_reducer and feature_set != STUDY_FEATURES:
        raise ModelListError(f"{where}: use_reducer needs feature_set {STUDY_FEATURES} (the reducer is fitted on it)")
    if candidate and feature_set != FULL_FEATURES:
        raise ModelListError(
            f"{where}: recommender_candidate needs feature_set {FULL_FEATURES} "
            "(promotion_scoring builds those features for new employees)"
        )
    return TabularFamily(name, feature_set, use_reducer, candidate)


def model_lists(parameters: Mapping[str, Any]) -> ModelLists:
    """The families and image models declared in a (merged) parameters dictionary."""
    blocks = {name: block for name, block in parameters.items() if isinstance(block, Mapping)}
    families = {name: _family(name, block) for name, block in blocks.items() if FAMILY_KEY in block}
    image_models = {name: str(block[IMAGE_MODEL_KEY]) for name, block in blocks.items() if IMAGE_MODEL_KEY in block}
    both = sorted(set(families) & set(image_models))
    if both:
        raise ModelListError(f"parameters: block(s) {both} have both an {FAMILY_KEY} and an {IMAGE_MODEL_KEY}")
    if not any(family.recommender_candidate for family in families.values()):
        raise ModelListError("parameters: no tabular family has recommender_candidate: true")
    return ModelLists(families, image_models)


def project_path() -> Path:
    """The Kedro project this package belongs to (the folder of its pyproject.toml and conf/)."""
    from promotion_cnn.tracking import project_root

    return Path(project_root())


@functools.cache
def _load(conf_source: str) -> ModelLists:
    from kedro.config import OmegaConfigLoader

    with warnings.catch_warnings():  # Kedro 1.7 calls an OmegaConf API that OmegaConf 2.4 deprecates (settings.py)
        warnings.filterwarnings("ignore", message="register_new_resolver", category=UserWarning)
        loader = OmegaConfigLoader(conf_source=conf_source, base_env="base", default_run_env="base")
        return model_lists(loader["parameters"])


def load_model_lists(project: str | Path | None = None) -> ModelLists:
    """The model lists of ``conf/base`` (environments are never read: they cannot add or remove a model)."""
    return _load(str(Path(project or project_path()) / "conf"))
