"""reporting pipeline."""

from kedro.pipeline import Pipeline


def create_pipeline(**kwargs) -> Pipeline:
    """Empty until its issue lands."""
    return Pipeline([])
