"""TensorFlow's start-up noise, handled before TensorFlow is imported; the devices it finds, logged once.

``quiet_tensorflow_startup()`` runs from ``settings.py`` (before any node imports TensorFlow):

- ``TF_CPP_MIN_LOG_LEVEL``, unless the user set it. With an NVIDIA driver present: ``1``, TensorFlow's C++
  INFO lines (the CPU-instructions notice, ...) stay off the console and its warnings and errors still show, so a
  GPU that fails to start (driver, cuDNN) is reported. With no NVIDIA driver (no ``/proc/driver/nvidia``, no
  ``/dev/nvidiactl``, no WSL GPU device): ``3``. There TensorFlow's CUDA plugin still calls ``cuInit`` when it
  first lists devices and logs ``E0000 ... cuda_platform.cc ... failed call to cuInit`` for a GPU that cannot
  exist (``CUDA_VISIBLE_DEVICES=""`` does not prevent the call); on a CPU-only run TensorFlow's failures are
  Python exceptions, which still stop the run and show.

``DeviceLogHook`` logs, once, before the first node of an image pipeline runs (so tabular-only runs never
import TensorFlow), which devices TensorFlow uses: the GPUs it found, or that it runs on the CPU.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger("promotion_cnn.run")

DRIVER_PATHS = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")
IMAGE_PACKAGES = ("promotion_cnn.pipelines.image_modelling", "promotion_cnn.pipelines.image_prediction")


def nvidia_driver_present(paths: tuple[str, ...] = DRIVER_PATHS) -> bool:
    return any(Path(path).exists() for path in paths)


def quiet_tensorflow_startup(environ: Any = os.environ, driver_present: bool | None = None) -> str:
    """Set ``TF_CPP_MIN_LOG_LEVEL`` (if unset) before TensorFlow is imported; returns the value in force."""
    driver = nvidia_driver_present() if driver_present is None else driver_present
    return environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if driver else "3")


class DeviceLogHook:
    """Log TensorFlow's devices once, when the first image node is about to run (TensorFlow is needed then)."""

    def __init__(self) -> None:
        self._logged = False

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        if self._logged or not getattr(node.func, "__module__", "").startswith(IMAGE_PACKAGES):
            return
        self._logged = True
        try:
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
        except Exception as error:  # the node itself will report a broken TensorFlow
            logger.debug("TensorFlow devices not listed: %s", error)
            return
        if gpus:
            logger.info("TensorFlow %s: %d GPU(s): %s", tf.__version__, len(gpus), ", ".join(g.name for g in gpus))
        else:
            driver = "" if nvidia_driver_present() else " (no NVIDIA driver on this machine)"
            logger.info("TensorFlow %s: no GPU, running on the CPU%s", tf.__version__, driver)
