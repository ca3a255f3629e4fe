"""image_prediction: choose a trained image model, then predict a folder of new images with it."""

from collections.abc import Iterable

from kedro.pipeline import Node, Pipeline

from promotion_cnn.model_lists import exported, load_model_lists

from .nodes import predict_images, select_image_model

SELECTION_TAG = "image_model_selection"  # OptionalInputsHook: models never trained are left out, not an error


def create_pipeline(image_models: Iterable[str] | None = None, **kwargs) -> Pipeline:
    """Select by ``image_prediction.model`` among every image model's latest validation metrics, then predict.

    The metrics are real inputs, so ``kedro run`` predicts after training; the chosen model's latest saved
    version is loaded lazily from ``trained_image_models``. Swap the images through the ``new_images`` entry.
    ``image_models``: the image models of the parameters (``promotion_cnn.model_lists``; ``pipeline_registry``
    passes them); by default those of the project's ``conf/base``.
    """
    image_models = load_model_lists().image_models if image_models is None else image_models
    metrics = {name: exported("val_metrics", name) for name in image_models}
    return Pipeline(
        [
            Node(
                select_image_model,
                {"image_prediction": "params:image_prediction", **metrics},
                "selected_image_model",
                name="select_image_model",
                tags=[SELECTION_TAG],
            ),
            Node(
                predict_images,
                ["new_images", "trained_image_models", "selected_image_model", "params:image_prediction"],
                "image_predictions",
                name="predict_images",
            ),
        ],
        tags=["image", "image_prediction"],
    )
