"""A run in another environment than local warns that conf/local is left out, naming its files."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from promotion_cnn.config_hooks import LocalConfigHook, ignored_local_files


def _context(conf, env):
    loader = SimpleNamespace(conf_source=str(conf), base_env="base", default_run_env="local")
    return SimpleNamespace(config_loader=loader, env=env)


def test_other_environment_warns_naming_the_local_files(tmp_path, caplog):
    (tmp_path / "local" / "sub").mkdir(parents=True)
    (tmp_path / "local" / ".gitkeep").touch()
    (tmp_path / "local" / "catalog_image.yml").write_text("images_raw: {}\n")
    (tmp_path / "local" / "sub" / "parameters.yml").write_text("a: 1\n")
    with caplog.at_level(logging.WARNING):
        LocalConfigHook().after_context_created(_context(tmp_path, "quick"))
    assert (
        "conf/local is not loaded with --env quick (Kedro loads conf/base and one environment): "
        "its file(s) catalog_image.yml, sub/parameters.yml are ignored in this run" in caplog.text
    )


def test_local_run_or_empty_local_is_silent(tmp_path, caplog):
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / ".gitkeep").touch()
    assert ignored_local_files(str(tmp_path), "quick") == []
    (tmp_path / "local" / "catalog.yml").write_text("x: {}\n")
    with caplog.at_level(logging.WARNING):
        LocalConfigHook().after_context_created(_context(tmp_path, None))
        LocalConfigHook().after_context_created(_context(tmp_path, "local"))
    assert caplog.text == ""
