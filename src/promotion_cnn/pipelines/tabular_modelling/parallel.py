"""Where the tabular fits run (``tabular_protocol.parallel``): joblib's loky or threading backend on this machine,
or joblib's Dask backend on a ``distributed`` cluster. ``distributed`` is imported only when ``dask`` is chosen."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from joblib import cpu_count, parallel_config

from .params import ParallelFits

logger = logging.getLogger(__name__)


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
        self.__name__ = getattr(function, "__name__", "fit")  # Dask's task names: batch_of__fit_task_1_calls

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with parallel_config(backend="threading"):
            return self.function(*args, **kwargs)


def nested_on_threads(calls: Any) -> list[tuple]:
    """``delayed`` calls, each wrapped in ``_NestedOnThreads`` (their arguments untouched, so scatter finds them)."""
    return [(_NestedOnThreads(function), args, kwargs) for function, args, kwargs in calls]
