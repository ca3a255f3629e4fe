"""Project settings: see https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

import os

from kedro.config import OmegaConfigLoader

# No network here and no consent asked: telemetry stays off unless a user opts in.
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}

from promotion_cnn.hooks import DataSourceHook  # noqa: E402

HOOKS = (DataSourceHook(),)
