"""Image part of data_processing: index -> validate -> class counts and sample grids."""

from kedro.pipeline import Node, Pipeline

from .image_nodes import count_images_per_class, plot_image_samples, validate_images
from .source_nodes import describe_source


def create_image_pipeline(**kwargs) -> Pipeline:
    """The raw image folder's index to a validated manifest, class counts and sample grids."""
    return Pipeline(
        [
            Node(describe_source, "images_raw", "images_source", name="describe_images_source"),
            Node(
                validate_images,
                ["images_raw", "params:image_validation"],
                ["image_manifest", "image_issues"],
                name="validate_images",
            ),
            Node(count_images_per_class, "image_manifest", "image_class_counts", name="count_images_per_class"),
            Node(
                plot_image_samples,
                ["image_manifest", "params:image_samples"],
                ["image_samples_train@figure", "image_samples_val@figure"],
                name="plot_image_samples",
            ),
        ]
    )
