"""The console helpers: TensorFlow's log level before import, stages of a run."""

from kedro.pipeline import Node, Pipeline

from promotion_cnn.run_console import node_stages
from promotion_cnn.tf_setup import quiet_tensorflow_startup


def test_tensorflow_log_level_hides_cuda_probing_only_without_a_driver():
    assert quiet_tensorflow_startup({}, driver_present=False) == "3"
    assert quiet_tensorflow_startup({}, driver_present=True) == "1"  # GPU problems still show
    assert quiet_tensorflow_startup({"TF_CPP_MIN_LOG_LEVEL": "0"}, driver_present=False) == "0"  # the user's choice


def _identity(x):
    return x


def test_nodes_belong_to_the_first_registered_pipeline_that_holds_them():
    shared = Node(_identity, "a", "b", name="shared")
    only_model = Node(_identity, "b", "c", name="fit", namespace="svm")
    registered = {"data_processing": Pipeline([shared]), "tabular_modelling": Pipeline([shared, only_model])}
    stages = node_stages([shared, only_model, Node(_identity, "c", "d", name="loose")], registered)
    assert stages == {"shared": "data_processing", "svm.fit": "tabular_modelling", "loose": "other"}
