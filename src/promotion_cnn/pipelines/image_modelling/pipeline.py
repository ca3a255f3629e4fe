"""image_modelling: one build -> train -> evaluate template per architecture and variant (namespace)."""

from collections.abc import Iterable

from kedro.pipeline import Node, Pipeline, pipeline

from promotion_cnn.model_lists import exported, load_model_lists

from .nodes import build_model, evaluate_model, summarise_model, train_model

SHARED_INPUTS = {"images_raw", "image_manifest", "image_class_counts"}
# leave a model's namespace as <name>_<model> (model_lists.exported): read by image_prediction and reporting
CROSS_MODEL_OUTPUTS = ("history", "val_metrics", "val_confusion_matrix")


def create_template() -> Pipeline:
    """The generic template; ``params:image_model`` holds the architecture, its input size and its overrides."""
    return Pipeline(
        [
            Node(
                build_model,
                ["image_class_counts", "params:image_model", "params:image_training"],
                "untrained_model",
                name="build_model",
            ),
            Node(summarise_model, "untrained_model", "model_summary", name="summarise_model"),
            Node(
                train_model,
                ["untrained_model", "images_raw", "image_manifest", "params:image_model", "params:image_training"],
                ["trained_model", "history", "train_timing"],
                name="train_model",
            ),
            Node(
                evaluate_model,
                [
                    "trained_model",
                    "images_raw",
                    "image_manifest",
                    "params:image_model",
                    "params:image_training",
                    "history",
                    "train_timing",
                ],
                ["val_metrics", "val_confusion_matrix"],
                name="evaluate_model",
            ),
        ]
    )


def create_pipeline(image_models: Iterable[str] | None = None, **kwargs) -> Pipeline:
    """The template instantiated once per image model, each in its own namespace, tagged ``image`` and its name.

    ``image_models``: the image models of the parameters (``promotion_cnn.model_lists``; ``pipeline_registry``
    passes them); by default those of the project's ``conf/base``.
    """
    image_models = load_model_lists().image_models if image_models is None else image_models
    template = create_template()
    return sum(
        (
            pipeline(
                template,
                namespace=name,
                inputs=SHARED_INPUTS,
                outputs={output: exported(output, name) for output in CROSS_MODEL_OUTPUTS},
                parameters={"params:image_model": f"params:{name}", "params:image_training": "params:image_training"},
                tags=["image", name],
            )
            for name in image_models
        ),
        Pipeline([]),
    )
