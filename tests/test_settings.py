"""Project settings: how configuration environments and --params combine."""

from __future__ import annotations

from pathlib import Path

from kedro.config import OmegaConfigLoader

from promotion_cnn.settings import CONFIG_LOADER_ARGS

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def test_params_override_one_key_even_in_an_environment_with_parameters() -> None:
    runtime = {
        "image_training": {"precision": "mixed_bfloat16"},
        "resnet": {"training": {"epochs": 3}},
    }
    loader = OmegaConfigLoader(
        CONF,
        **{**CONFIG_LOADER_ARGS, "default_run_env": "real"},
        runtime_params=runtime,
    )
    parameters = loader["parameters"]
    assert parameters["image_training"]["precision"] == "mixed_bfloat16"
    assert parameters["image_training"]["seed"] == 42  # the rest of base's block is kept
    assert parameters["resnet"]["image_size"] == 80 and parameters["resnet"]["training"]["epochs"] == 3
    assert parameters["resnet"]["training"]["keep_best"] is True
