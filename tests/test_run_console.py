"""The console helpers: TensorFlow's log level before import, stages of a run; the documented commands."""

import logging
import re
from pathlib import Path

from kedro.pipeline import Node, Pipeline

from promotion_cnn.library_noise import quiet_library_warnings
from promotion_cnn.run_console import node_stages
from promotion_cnn.tf_setup import quiet_tensorflow_startup


def test_tensorflow_log_level_hides_cuda_probing_only_without_a_driver():
    assert quiet_tensorflow_startup({}, driver_present=False) == "3"
    assert quiet_tensorflow_startup({}, driver_present=True) == "1"  # GPU problems still show
    assert quiet_tensorflow_startup({"TF_CPP_MIN_LOG_LEVEL": "0"}, driver_present=False) == "0"  # the user's choice


def _identity(x):
    return x


def test_keras_step_function_retracing_is_logged_at_info_and_other_tensorflow_warnings_stay(caplog):
    """Every CNN's predict step is a closure of one code object: TensorFlow's count of "retracing" adds them up."""
    quiet_tensorflow_startup({}, driver_present=False)
    tf_logger = logging.getLogger("tensorflow")
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        tf_logger.warning(
            "6 out of the last 6 calls to <function TensorFlowTrainer.make_predict_function.<locals>."
            "one_step_on_data_distributed at 0x7f> triggered tf.function retracing. Tracing is expensive"
        )
        tf_logger.warning("5 out of the last 5 calls to <function my_step at 0x7f> triggered tf.function retracing.")
    assert [r.levelname for r in caplog.records] == ["INFO", "WARNING"]  # a user's own function still warns


def test_mlflow_untyped_predict_warning_goes_to_the_log_file_and_other_warnings_stay(caplog):
    quiet_library_warnings()
    with caplog.at_level(logging.INFO, logger="py.warnings"):
        logging.getLogger("py.warnings").warning("UserWarning: \x1b[33mAdd type hints to the `predict` method to ...")
        logging.getLogger("py.warnings").warning("UserWarning: something else")
    assert [r.levelname for r in caplog.records] == ["INFO", "WARNING"]


def test_nodes_belong_to_the_first_registered_pipeline_that_holds_them():
    shared = Node(_identity, "a", "b", name="shared")
    only_model = Node(_identity, "b", "c", name="fit", namespace="svm")
    registered = {"data_processing": Pipeline([shared]), "tabular_modelling": Pipeline([shared, only_model])}
    stages = node_stages([shared, only_model, Node(_identity, "c", "d", name="loose")], registered)
    assert stages == {"shared": "data_processing", "svm.fit": "tabular_modelling", "loose": "other"}


def test_documented_kedro_commands_use_the_option_kedro_does_not_deprecate():
    """Kedro 1.7 warns on every `kedro run --pipeline X` (deprecated): the commands users copy say `--pipelines`."""
    root = Path(__file__).resolve().parents[1]
    documents = [root / "README.md", *(root / "docs").glob("*.md"), *(root / "conf").rglob("*.yml")]
    deprecated = re.compile(r"kedro run\b[^`\n]*--pipeline\b(?!s)")
    found = [f"{p.relative_to(root)}: {m.group()}" for p in documents for m in deprecated.finditer(p.read_text())]
    assert found == []
