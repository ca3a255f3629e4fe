"""Serving the recommender: the batch scoring nodes as one callable, an MLflow pyfunc model and an HTTP service."""

from .scorer import RecommenderScorer, scoring_parameters

__all__ = ["RecommenderScorer", "scoring_parameters"]
