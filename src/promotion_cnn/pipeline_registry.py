"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from promotion_cnn.pipelines import data_processing


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    ``find_pipelines`` discovers ``data_processing``, ``tabular_modelling``,
    ``image_modelling``, ``promotion_scoring`` and ``reporting`` (Kedro loads
    only those a run asks for). Each modelling pipeline is registered together
    with the processing nodes it needs, so ``kedro run --pipeline
    tabular_modelling`` works on a fresh clone with no earlier run.
    ``promotion_scoring`` holds its own feature nodes and reads the latest saved
    ``recommender``, which ``tabular_modelling`` writes; ``__default__`` runs
    everything, scoring after modelling.
    """
    pipelines = find_pipelines(raise_errors=True)
    processing = {
        "tabular_modelling": data_processing.create_tabular_pipeline,
        "image_modelling": data_processing.create_image_pipeline,
    }
    for name, create_processing in processing.items():
        if name in pipelines:
            pipelines[name] = create_processing() + pipelines[name]
    if "__default__" in pipelines:
        pipelines["__default__"] = sum((p for n, p in pipelines.items() if n != "__default__"), Pipeline([]))
    return pipelines
