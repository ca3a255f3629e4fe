"""Library warnings with nothing for a user to act on, filtered before the libraries are imported.

``quiet_library_warnings`` runs at Kedro's CLI start-up (a ``kedro.init`` entry point in pyproject.toml, called
before Kedro loads the plugins' commands, which import kedro-mlflow and MLflow) and from ``settings.py`` (for
sessions made in Python: notebooks, tests, scripts).
"""

import warnings


def quiet_library_warnings() -> None:
    """Ignore the two warnings every `kedro` command would otherwise print."""
    # Kedro 1.7 calls an OmegaConf API that OmegaConf 2.4 deprecates.
    warnings.filterwarnings("ignore", message="register_new_resolver", category=UserWarning)
    # kedro-mlflow 2.0.3's KedroPipelineModel (not used here) has an untyped `predict`, and MLflow 3 warns about it
    # when the class is defined; the project's own pyfunc model is typed.
    warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method", category=UserWarning)
