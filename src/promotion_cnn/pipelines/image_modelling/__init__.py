"""image_modelling pipeline."""

from .pipeline import IMAGE_MODELS, create_pipeline

__all__ = ["IMAGE_MODELS", "create_pipeline"]
