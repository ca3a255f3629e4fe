"""image_prediction: a folder of new images -> a table of predicted classes, with a trained image model."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
