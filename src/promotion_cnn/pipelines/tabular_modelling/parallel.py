"""How the tabular fits run: where (``tabular_protocol.parallel``: joblib's loky or threading backend on this machine,
or joblib's Dask backend on a ``distributed`` cluster), how many at once (``parallel_fits``), and the threads inside
one fit. ``distributed`` is imported only when ``dask`` is chosen."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, cpu_count, parallel_config
from joblib.externals.loky import reusable_executor
from sklearn.pipeline import Pipeline

from promotion_cnn.tabular.scoring import single_threaded
from promotion_cnn.tabular.tables import TooFewRowsError

from .params import ParallelFits, TabularProtocol

logger = logging.getLogger(__name__)

SMALL_CLASS = 50  # a fit's ValueError on a table with fewer rows than this in a class is reported as too few rows


@contextmanager
def fits_backend(parallel: ParallelFits, scatter: Sequence[Any] = ()) -> Iterator[None]:
    """joblib's backend for the ``Parallel`` calls inside the block.

    With ``dask``: a ``distributed.Client`` of the scheduler at ``scheduler_address``, or of a ``LocalCluster`` on
    127.0.0.1 started here (``n_workers`` processes, or one per core, each with one thread) and closed at the end of
    the block. ``scatter`` (the training matrix and target) is broadcast to every worker once, when the block opens;
    each fit then refers to it instead of carrying it (joblib swaps the objects, by identity, for their futures).
    """
    if parallel.backend != "dask":
        with parallel_config(backend=parallel.backend):
            yield
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "tabular_protocol.parallel.backend: dask needs the distributed package: pip install -e '.[dask]'"
        ) from error
    with ExitStack() as stack:
        if parallel.scheduler_address:
            client = stack.enter_context(Client(parallel.scheduler_address, set_as_default=False))
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=parallel.n_workers or cpu_count(),
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster, set_as_default=False))
        logger.info("Fits on Dask: %s, %d worker thread(s)", client.scheduler.address, sum(client.nthreads().values()))
        with parallel_config(backend="dask", client=client, scatter=list(scatter)):
            yield


class _NestedOnThreads:
    """A fit whose own joblib calls (a forest's trees, a ColumnTransformer's columns) run on threads of the process
    the fit runs in, as they do in a loky worker. On a Dask worker joblib sets the Dask backend for them, so each
    batch of a forest's trees would be a cluster task of its own, shipping the training rows between workers."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.__name__ = getattr(function, "__name__", "fit")  # Dask's task names: batch_of_fit_and_score_1_calls

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with parallel_config(backend="threading"):
            return self.function(*args, **kwargs)


def nested_on_threads(calls: Any) -> list[tuple]:
    """``delayed`` calls, each wrapped in ``_NestedOnThreads`` (their arguments untouched, so scatter finds them)."""
    return [(_NestedOnThreads(function), args, kwargs) for function, args, kwargs in calls]


def fit_single_threaded(estimator: Pipeline, x: pd.DataFrame, y: np.ndarray) -> Pipeline:
    """Fit with OpenMP limited to one thread; a classifier that threads itself (a forest's own ``n_jobs``, an
    estimator parameter) keeps its threads for the fit, then predicts on one: a forest sums its trees in
    thread-completion order otherwise, and its scores would differ in the last bits from run to run."""
    with single_threaded():
        estimator.fit(x, y)
    classifier = estimator.steps[-1][1]
    if "n_jobs" in classifier.get_params(deep=False):
        classifier.set_params(n_jobs=1)
    return estimator


def release_workers() -> None:
    """In a child process (a ParallelRunner worker), stop joblib's reusable loky workers: they would outlive the run."""
    executor = reusable_executor._executor
    if multiprocessing.parent_process() is not None and executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def run_fits(
    calls: Any, parallel_fits: int, protocol: TabularProtocol, source: str, y: np.ndarray, scatter: tuple = ()
) -> list[dict]:
    """Run independent fits, ``parallel_fits`` at a time (``protocol.parallel``: loky, threading or Dask; ``scatter``,
    the fits' shared training data, goes to Dask workers once); on a small table a fit's ``ValueError`` becomes a
    named ``TooFewRowsError``."""
    calls = nested_on_threads(calls)
    if not calls:  # nothing to fit: no cluster started, no data sent
        return []
    try:
        with fits_backend(protocol.parallel, scatter):
            return Parallel(n_jobs=parallel_fits, verbose=protocol.progress)(calls)
    except ValueError as error:
        counts = {label: int(np.sum(y == label)) for label in (1, 0)}
        if min(counts.values()) >= SMALL_CLASS:
            raise
        raise TooFewRowsError(
            f"{source}: a fit on {len(y)} training rows ({counts[1]} with the target 1, {counts[0]} with 0) failed, "
            f"the table is probably too small: {error}. Early stopping (validation_fraction) and calibration "
            "(calibration_folds) split each training fold again; use more rows, fewer tabular_protocol.cv_folds, "
            "or fewer such variants"
        ) from error
    finally:
        release_workers()
