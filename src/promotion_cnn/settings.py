"""Project settings: see https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

import os
import warnings

from kedro.config import OmegaConfigLoader

from promotion_cnn.datasets.optional import OptionalInputsHook
from promotion_cnn.hooks import DataSourceHook, RollbackVersionsHook

# No network here and no consent asked: telemetry stays off unless a user opts in (see also .telemetry).
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
# Kedro 1.7 calls an OmegaConf API that OmegaConf 2.4 deprecates; nothing for users to act on.
warnings.filterwarnings("ignore", message="register_new_resolver", category=UserWarning)

# OptionalInputsHook: the report lists missing parts instead of failing when a pipeline has not run yet.
HOOKS = (DataSourceHook(), RollbackVersionsHook(), OptionalInputsHook(tag="reporting"))

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
