"""Project settings: see https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

import os
import warnings

from kedro.config import OmegaConfigLoader

from promotion_cnn.datasets.optional import OptionalInputsHook
from promotion_cnn.hooks import DataSourceHook
from promotion_cnn.runs import RunJournalHook
from promotion_cnn.tracking import MlflowTrackingHook, project_root

# No network here and no consent asked: telemetry stays off unless a user opts in (see also .telemetry).
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
# Kedro 1.7 calls an OmegaConf API that OmegaConf 2.4 deprecates; nothing for users to act on.
warnings.filterwarnings("ignore", message="register_new_resolver", category=UserWarning)

# RunJournalHook: a run's outputs count only when it succeeds (docs/architecture.md, "Runs are all-or-nothing").
# OptionalInputsHook: the report lists missing parts instead of failing when a pipeline has not run yet,
# and image_prediction chooses among the image models that have been trained.
HOOKS = (
    DataSourceHook(),
    RunJournalHook(),
    OptionalInputsHook(tag="reporting"),
    OptionalInputsHook(tag="image_model_selection"),
    MlflowTrackingHook(),  # the MLflow run kedro-mlflow opens: metrics, inputs, artifacts, models (tracking.py)
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment's parameters merge key by key into base's. With Kedro's default (destructive) merge, an
    # environment that has any parameters file would let `--params image_training.epochs=5` replace the whole
    # `image_training` block (runtime params are merged into each environment before the two are merged).
    "merge_strategy": {"parameters": "soft"},
    # conf/base/mlflow.yml: the tracking store and artifacts at the project root, whatever the working directory.
    "custom_resolvers": {"project_root": project_root},
}
