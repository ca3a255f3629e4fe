"""Library messages with nothing for a user to act on, kept off the console (the log file keeps those it can).

``quiet_library_warnings`` runs at Kedro's CLI start-up (a ``kedro.init`` entry point in pyproject.toml, called
before Kedro loads the plugins' commands, which import kedro-mlflow and MLflow) and from ``settings.py`` (for
sessions made in Python: notebooks, tests, scripts).
"""

import logging
import warnings

# kedro-mlflow 2.0.3's KedroPipelineModel (not used here) has an untyped `predict`, and MLflow 3 warns about it when
# the class is defined, under its own `simplefilter("once")` (so a warnings filter cannot ignore it); the project's
# own pyfunc model is typed.
MLFLOW_UNTYPED_PREDICT = "Add type hints to the `predict` method"
# kedro-viz records its workflow events only for full runs under the SequentialRunner and says so at every other run.
VIZ_WORKFLOW_OFF = "Workflow tracking is disabled"
# ThreadRunner: two nodes' parallel fits share loky's reusable executor; one waits for the other's jobs (same results).
LOKY_RESIZE = "Trying to resize an executor with running jobs"


class ToInfo(logging.Filter):
    """Records whose message holds one of ``fragments`` are logged at INFO: to the log file, not the console."""

    def __init__(self, *fragments: str) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            message = record.getMessage()
            if all(fragment in message for fragment in self.fragments):
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def log_at_info(logger_name: str, *fragments: str) -> None:
    """Add a ``ToInfo`` filter for ``fragments`` to a logger (once)."""
    target = logging.getLogger(logger_name)
    if not any(isinstance(f, ToInfo) and f.fragments == fragments for f in target.filters):
        target.addFilter(ToInfo(*fragments))


def quiet_library_warnings() -> None:
    """The warnings every `kedro` command would otherwise print: ignored, or logged at INFO."""
    # Kedro 1.7 calls an OmegaConf API that OmegaConf 2.4 deprecates.
    warnings.filterwarnings("ignore", message="register_new_resolver", category=UserWarning)
    log_at_info("py.warnings", MLFLOW_UNTYPED_PREDICT)  # Kedro logs warnings through logging (captureWarnings)
    log_at_info("py.warnings", LOKY_RESIZE)
    log_at_info("kedro_viz.integrations.kedro.run_hooks", VIZ_WORKFLOW_OFF)
