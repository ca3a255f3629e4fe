"""The MLflow model registry: the recommender and the trained CNNs as registered models (docs/tracking.md)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def log_and_register(client: Any, hook: Any, models: dict[str, Any]) -> None:
    """Log each saved model to the run and register it (not yet)."""
    logger.debug("Model registration is not implemented yet: %s", sorted(models))
