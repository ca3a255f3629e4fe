"""TensorFlow's start-up noise, handled before TensorFlow is imported; the devices it finds, logged once.

``quiet_tensorflow_startup()`` runs from ``settings.py`` (before any node imports TensorFlow):

- ``TF_CPP_MIN_LOG_LEVEL``, unless the user set it. With an NVIDIA driver present: ``1``, TensorFlow's C++
  INFO lines (the CPU-instructions notice, ...) stay off the console and its warnings and errors still show, so a
  GPU that fails to start (driver, cuDNN) is reported. With no NVIDIA driver (no ``/proc/driver/nvidia``, no
  ``/dev/nvidiactl``, no WSL GPU device): ``3``. There TensorFlow's CUDA plugin still calls ``cuInit`` when it
  first lists devices and logs ``E0000 ... cuda_platform.cc ... failed call to cuInit`` for a GPU that cannot
  exist (``CUDA_VISIBLE_DEVICES=""`` does not prevent the call); on a CPU-only run TensorFlow's failures are
  Python exceptions, which still stop the run and show.

It also keeps one false alarm off the console (a ``library_noise.ToInfo`` filter on the ``tensorflow`` logger):
TensorFlow counts traces per Python code object, and every Keras model's ``predict`` / ``fit`` step function is a
closure of the same code, so evaluating the sixth CNN of a run, each traced once, warns that "6 out of the last 6
calls ... triggered tf.function retracing". The filter logs those lines at INFO: the log file keeps them.

``DeviceLogHook`` imports TensorFlow before a run with image nodes loads its first dataset (``import_tensorflow``:
without an NVIDIA driver, the CUDA-probing lines TensorFlow writes to stderr before its logging starts go to the
log file; tabular-only runs never import TensorFlow) and logs, once, which devices it uses: the GPUs it found, or
that it runs on the CPU.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from promotion_cnn.library_noise import log_at_info

logger = logging.getLogger("promotion_cnn.run")

DRIVER_PATHS = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")
IMAGE_PACKAGES = ("promotion_cnn.pipelines.image_modelling", "promotion_cnn.pipelines.image_prediction")


def nvidia_driver_present(paths: tuple[str, ...] = DRIVER_PATHS) -> bool:
    return any(Path(path).exists() for path in paths)


def quiet_tensorflow_startup(environ: Any = os.environ, driver_present: bool | None = None) -> str:
    """Set ``TF_CPP_MIN_LOG_LEVEL`` (if unset) before TensorFlow is imported, filter its logger; returns the value."""
    driver = nvidia_driver_present() if driver_present is None else driver_present
    log_at_info("tensorflow", "triggered tf.function retracing", "TensorFlowTrainer.")  # see the module docstring
    return environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if driver else "3")


@contextlib.contextmanager
def native_stderr_logged(to: logging.Logger) -> Iterator[None]:
    """What native code writes to file descriptor 2 inside the block goes to ``to`` (INFO), not the console."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if line.strip():
                    to.info("TensorFlow start-up: %s", line)


def import_tensorflow() -> Any:
    """``import tensorflow``; without an NVIDIA driver its CUDA-probing lines go to the log file.

    TensorFlow writes them (``cudart_stub.cc ... Could not find cuda drivers``) before its logging is initialised,
    so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them. With a driver present nothing is captured: a GPU that fails to
    start is reported on the console.
    """
    if "tensorflow" in sys.modules or nvidia_driver_present():
        import tensorflow as tf

        return tf
    with native_stderr_logged(logging.getLogger("tensorflow")):
        import tensorflow as tf
    return tf


def _uses_tensorflow(node: Any) -> bool:
    return getattr(node.func, "__module__", "").startswith(IMAGE_PACKAGES)


class DeviceLogHook:
    """Import TensorFlow before a run with image nodes loads anything, and log once which devices it uses."""

    def __init__(self) -> None:
        self._logged = False

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if not any(_uses_tensorflow(node) for node in pipeline.nodes):
            return
        try:
            import_tensorflow()
        except Exception as error:  # the nodes themselves will report a broken TensorFlow
            logger.debug("TensorFlow not imported: %s", error)

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        if self._logged or not _uses_tensorflow(node):
            return
        self._logged = True
        try:
            tf = import_tensorflow()
            gpus = tf.config.list_physical_devices("GPU")
        except Exception as error:  # the node itself will report a broken TensorFlow
            logger.debug("TensorFlow devices not listed: %s", error)
            return
        if gpus:
            logger.info("TensorFlow %s: %d GPU(s): %s", tf.__version__, len(gpus), ", ".join(g.name for g in gpus))
        else:
            driver = "" if nvidia_driver_present() else " (no NVIDIA driver on this machine)"
            logger.info("TensorFlow %s: no GPU, running on the CPU%s", tf.__version__, driver)
