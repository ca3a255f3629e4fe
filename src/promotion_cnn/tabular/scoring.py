"""Scores of a fitted tabular model, shared by training (tabular_modelling) and scoring (promotion_scoring)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits


def single_threaded() -> threadpool_limits:
    """OpenMP limited to one thread (a context manager): fits run in parallel (``n_jobs``), and gradient
    boosting's OpenMP threads slow down by orders of magnitude on a machine whose cores are busy."""
    return threadpool_limits(limits=1, user_api="openmp")


def predict_scores(model: BaseEstimator, features: pd.DataFrame) -> np.ndarray:
    """Positive-class scores: probabilities where the model has them, else decision values."""
    with single_threaded():
        if hasattr(model, "predict_proba"):
            return model.predict_proba(features)[:, 1]
        return model.decision_function(features)
