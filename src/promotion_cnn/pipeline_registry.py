"""Project pipelines."""

from kedro.pipeline import Pipeline

from promotion_cnn.model_lists import load_model_lists
from promotion_cnn.pipelines import (
    data_processing,
    image_modelling,
    image_prediction,
    promotion_scoring,
    reporting,
    tabular_modelling,
)


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's six pipelines, built from the model lists of the parameters.

    ``data_processing``, ``tabular_modelling``, ``image_modelling``, ``image_prediction``, ``promotion_scoring``
    and ``reporting``. The tabular families and image models are the parameter blocks of ``conf/base``
    (``promotion_cnn.model_lists``), passed to each ``create_pipeline``: adding a model is a YAML edit. Each
    modelling pipeline is registered together with the processing nodes it needs, so ``kedro run --pipelines
    tabular_modelling`` works on a fresh clone with no earlier run. ``promotion_scoring`` holds its own feature
    nodes and reads the latest saved ``recommender``, which ``tabular_modelling`` writes; ``image_prediction``
    reads the image models' latest validation metrics; ``__default__`` runs everything, scoring after modelling.
    """
    models = load_model_lists()
    families, image_models = models.families, models.image_models
    pipelines = {
        "data_processing": data_processing.create_pipeline(),
        "tabular_modelling": data_processing.create_tabular_pipeline()
        + tabular_modelling.create_pipeline(families=families),
        "image_modelling": data_processing.create_image_pipeline()
        + image_modelling.create_pipeline(image_models=image_models),
        "image_prediction": image_prediction.create_pipeline(image_models=image_models),
        "promotion_scoring": promotion_scoring.create_pipeline(),
        "reporting": reporting.create_pipeline(families=families, image_models=image_models),
    }
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
