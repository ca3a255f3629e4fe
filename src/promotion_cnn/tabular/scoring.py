"""Scores of a fitted tabular model, shared by training (tabular_modelling) and scoring (promotion_scoring)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from threadpoolctl import ThreadpoolController, threadpool_limits


def single_threaded() -> threadpool_limits:
    """OpenMP limited to one thread (a context manager): fits run in parallel (``n_jobs``), and gradient
    boosting's OpenMP threads slow down by orders of magnitude on a machine whose cores are busy."""
    return threadpool_limits(limits=1, user_api="openmp")


@cache
def _thread_pools() -> ThreadpoolController:
    """The process's thread-pool libraries, looked up once: the lookup scans every loaded library (~5 ms, more
    than a small table's prediction). First called by a prediction, when the model's OpenMP runtime is loaded."""
    return ThreadpoolController()


def predict_scores(model: BaseEstimator, features: pd.DataFrame) -> np.ndarray:
    """Positive-class scores: probabilities where the model has them, else decision values (OpenMP on one thread,
    as ``single_threaded``)."""
    with _thread_pools().limit(limits=1, user_api="openmp"):
        if hasattr(model, "predict_proba"):
            return model.predict_proba(features)[:, 1]
        return model.decision_function(features)
