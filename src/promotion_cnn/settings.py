"""Project settings: see https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

import os

from kedro.config import OmegaConfigLoader

from promotion_cnn.config_hooks import LocalConfigHook
from promotion_cnn.datasets.optional import OptionalInputsHook
from promotion_cnn.hooks import DataSourceHook
from promotion_cnn.library_noise import quiet_library_warnings
from promotion_cnn.run_console import RunProgressHook, RunSummaryHook
from promotion_cnn.runner_hooks import ShareMemoryDatasetsHook
from promotion_cnn.runs import RunJournalHook
from promotion_cnn.tf_cluster import ChiefOnlyOutputsHook
from promotion_cnn.tf_setup import DeviceLogHook, quiet_tensorflow_startup
from promotion_cnn.tracking import KedroMlflowRunHook, MlflowTrackingHook, project_root
from promotion_cnn.validation import ContractHook

# No network here and no consent asked: telemetry stays off unless a user opts in (see also .telemetry).
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
# OmegaConf's and MLflow's warnings with nothing to act on (also filtered at `kedro` start-up: library_noise.py).
quiet_library_warnings()
# Before any node imports TensorFlow: no C++ INFO lines, and no CUDA-probing error on a machine without an NVIDIA
# driver (see tf_setup.py); DeviceLogHook logs the devices TensorFlow uses once, when an image node first runs.
quiet_tensorflow_startup()

# RunJournalHook: a run's outputs count only when it succeeds (docs/architecture.md, "Runs are all-or-nothing").
# OptionalInputsHook: the report lists missing parts instead of failing when a pipeline has not run yet,
# and image_prediction chooses among the image models that have been trained.
# ContractHook: the catalog's `validator:` contracts get the parameters and name the file; the input tables are
# checked before any node runs, and an entry overridden without a `validator:` block keeps its default contract.
# ShareMemoryDatasetsHook: the catalog's MemoryDatasets cross ParallelRunner's processes.
# LocalConfigHook: a warning names the conf/local files that `--env <other>` leaves out.
# ChiefOnlyOutputsHook: on a tf.distribute worker that is not the chief (TF_CONFIG), the run's outputs stay in
# memory; last here, so its before_pipeline_run comes first (the journal and the tracking see no file outputs).
# Kedro calls hooks in reverse order of this tuple: RunJournalHook, first here, starts its journal after the
# others' before_pipeline_run (a run stopped by a contract or a setting has nothing to undo) and commits last.
HOOKS = (
    RunJournalHook(),
    RunSummaryHook(),  # the run's closing summary (run_console.py): registered early, so it is the last line
    LocalConfigHook(),
    ContractHook(
        defaults={
            "employees_raw": "promotion_cnn.validation.employee_table",
            "employees_to_score": "promotion_cnn.validation.table_to_score",
        }
    ),
    ShareMemoryDatasetsHook(),
    DataSourceHook(),
    OptionalInputsHook(tag="reporting"),
    OptionalInputsHook(tag="image_model_selection"),
    MlflowTrackingHook(),  # the MLflow run kedro-mlflow opens: metrics, inputs, artifacts, models (tracking.py)
    # the console: a progress bar on a terminal, a line per finished stage, the devices TensorFlow uses
    RunProgressHook(),
    DeviceLogHook(),
    ChiefOnlyOutputsHook(),  # a tf.distribute worker that is not the chief keeps its outputs in memory (tf_cluster.py)
    # kedro-mlflow's hook, last so that it is called first (it opens the MLflow run), as the plugin was
    KedroMlflowRunHook(),
)
# ... instead of the plugin's own instance, which logs each parameter of each node in its own transaction
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)

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
