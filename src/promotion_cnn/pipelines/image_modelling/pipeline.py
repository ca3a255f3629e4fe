"""image_modelling: one build -> train -> evaluate template per architecture and variant (namespace)."""

from kedro.pipeline import Node, Pipeline, pipeline

from .nodes import build_model, evaluate_model, summarise_model, train_model

IMAGE_MODELS = (
    "simple_cnn",
    "lenet",
    "alexnet",
    "lenet_batch_128",
    "lenet_batch_8",
    "lenet_size_128",
    "lenet_kernel_2",
    "lenet_dropout",
    "alexnet_25_epochs",
    "resnet",
)
SHARED_INPUTS = {"image_manifest", "image_class_counts"}


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
                ["untrained_model", "image_manifest", "params:image_model", "params:image_training"],
                ["trained_model", "history", "train_timing"],
                name="train_model",
            ),
            Node(
                evaluate_model,
                [
                    "trained_model",
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


def create_pipeline(**kwargs) -> Pipeline:
    """The template instantiated once per image model, each in its own namespace, tagged ``image`` and its name."""
    template = create_template()
    return sum(
        (
            pipeline(
                template,
                namespace=name,
                inputs=SHARED_INPUTS,
                parameters={"params:image_model": f"params:{name}", "params:image_training": "params:image_training"},
                tags=["image", name],
            )
            for name in IMAGE_MODELS
        ),
        Pipeline([]),
    )
