"""Image part of data_processing: the raw image set -> validated manifest -> class counts and sample grids."""

from kedro.pipeline import Node, Pipeline

from .image_nodes import count_images_per_class, describe_images, plot_image_samples, validate_images


def create_image_pipeline(**kwargs) -> Pipeline:
    """The raw image set to a validated manifest, class counts and sample grids."""
    return Pipeline(
        [
            Node(describe_images, "images_raw", "images_source", name="describe_images_source"),
            Node(
                validate_images,
                ["images_raw", "params:image_validation"],
                ["image_manifest", "image_issues"],
                name="validate_images",
            ),
            Node(count_images_per_class, "image_manifest", "image_class_counts", name="count_images_per_class"),
            Node(
                plot_image_samples,
                ["image_manifest", "images_raw", "params:image_samples"],
                ["image_samples_train@figure", "image_samples_val@figure"],
                name="plot_image_samples",
            ),
        ]
    )
