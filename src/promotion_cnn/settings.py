"""Project settings: see https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

import os
import warnings

from kedro.config import OmegaConfigLoader

from promotion_cnn.datasets.optional import OptionalInputsHook
from promotion_cnn.hooks import DataSourceHook, RollbackVersionsHook
from promotion_cnn.run_console import RunProgressHook, RunSummaryHook
from promotion_cnn.tf_setup import DeviceLogHook, quiet_tensorflow_startup

# No network here and no consent asked: telemetry stays off unless a user opts in (see also .telemetry).
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
# Kedro 1.7 calls an OmegaConf API that OmegaConf 2.4 deprecates; nothing for users to act on.
warnings.filterwarnings("ignore", message="register_new_resolver", category=UserWarning)
# Before any node imports TensorFlow: no C++ INFO lines, and no CUDA-probing error on a machine without an NVIDIA
# driver (see tf_setup.py); DeviceLogHook logs the devices TensorFlow uses once, when an image node first runs.
quiet_tensorflow_startup()

# OptionalInputsHook: the report lists missing parts instead of failing when a pipeline has not run yet,
# and image_prediction chooses among the image models that have been trained.
HOOKS = (
    DataSourceHook(),
    RollbackVersionsHook(),
    OptionalInputsHook(tag="reporting"),
    OptionalInputsHook(tag="image_model_selection"),
    # the console: one line per finished stage, a progress bar on a terminal, a summary (run_console.py);
    # pluggy calls later-registered hooks first, so the summary (registered first) is the run's last line
    RunSummaryHook(),
    RunProgressHook(),
    DeviceLogHook(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment's parameters merge key by key into base's. With Kedro's default (destructive) merge, an
    # environment that has any parameters file would let `--params image_training.epochs=5` replace the whole
    # `image_training` block (runtime params are merged into each environment before the two are merged).
    "merge_strategy": {"parameters": "soft"},
}
