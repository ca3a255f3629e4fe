"""Tabular and image data processing."""

from .pipeline import create_image_pipeline, create_pipeline, create_tabular_pipeline

__all__ = ["create_image_pipeline", "create_pipeline", "create_tabular_pipeline"]
