"""Warn when a run's environment leaves the user's conf/local out (Kedro loads base plus one environment)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)


def ignored_local_files(conf_source: str, run_env: str, local_env: str = "local") -> list[str]:
    """The files in ``conf/<local_env>`` that a run in another environment does not load."""
    local = Path(conf_source) / local_env
    if run_env == local_env or not local.is_dir():
        return []
    return sorted(
        str(path.relative_to(local))
        for path in local.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(local).parts)
    )


class LocalConfigHook:
    """Log a warning naming the conf/local files that ``--env <other>`` drops, so no user setting is lost silently."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        loader = context.config_loader
        local_env = getattr(loader, "default_run_env", None) or "local"
        run_env = context.env or local_env
        files = ignored_local_files(str(loader.conf_source), run_env, local_env)
        if files:
            logger.warning(
                "conf/%s is not loaded with --env %s (Kedro loads conf/%s and one environment): "
                "its file(s) %s are ignored in this run; copy the settings you need into conf/%s/",
                local_env,
                run_env,
                getattr(loader, "base_env", None) or "base",
                ", ".join(files),
                run_env,
            )
