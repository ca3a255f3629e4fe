"""promotion_scoring pipeline: rank current employees with the selected recommender."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
