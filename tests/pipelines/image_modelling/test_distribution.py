"""CNN training across devices (tf.distribute) on the CPU: mirrored on one device, two workers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro_datasets.pandas import CSVDataset

from promotion_cnn.pipelines.image_modelling.nodes import build_model, evaluate_model, train_model
from promotion_cnn.pipelines.image_modelling.params import ImageModel
from promotion_cnn.pipelines.image_modelling.training import (
    DistributionError,
    distribute_batches,
    distribution_strategy,
)
from promotion_cnn.tf_cluster import ChiefOnlyOutputsHook, ClusterConfigError, cluster_config, is_chief

WORKERS_TIMEOUT = 150  # seconds for both workers together; a worker waiting for the other never ends by itself

# One worker of the cluster: the project's own build -> train -> evaluate nodes, then the chief reports.
WORKER = """
import json, sys
import pandas as pd
from promotion_cnn.datasets.image_folder import ImageFolderDataset
from promotion_cnn.pipelines.image_modelling.nodes import build_model, evaluate_model, train_model
from promotion_cnn.pipelines.image_modelling.params import ImageModel, ImageTraining
from promotion_cnn.pipelines.image_modelling.training import distribution_strategy
from promotion_cnn.tf_cluster import cluster_config, is_chief

folder = sys.argv[1]
spec = json.loads(open(folder + "/spec.json").read())
model, training = ImageModel.model_validate(spec["model"]), ImageTraining.model_validate(spec["training"])
manifest, counts = pd.read_parquet(folder + "/manifest.parquet"), pd.read_parquet(folder + "/counts.parquet")
network = build_model(counts, model, training)
images = ImageFolderDataset(spec["images"]).load()
trained, history, timing = train_model(network, images, manifest, model, training)
metrics, _ = evaluate_model(trained, images, manifest, model, training, history, timing)
replicas = distribution_strategy(training.model_dump()).num_replicas_in_sync
print(json.dumps({"val_accuracy": metrics["val_accuracy"]}))
if is_chief(cluster_config()):
    report = {"epochs": timing["epochs"], "history_epochs": len(history), "replicas": replicas, **metrics}
    open(folder + "/chief.json", "w").write(json.dumps(report))
"""


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 (bound together, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: list[int], index: int) -> str:
    """The TF_CONFIG of worker ``index`` in a cluster of workers on 127.0.0.1 at ``ports``."""
    return json.dumps(
        {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    )


def test_mirrored_on_one_cpu_gives_the_accuracy_of_no_strategy(
    tiny_images, tiny_manifest, tiny_class_counts, tiny_lenet, training, caplog
) -> None:
    run = training.model_copy(update={"epochs": 2, "learning_rate": 0.01})
    mirrored = run.model_copy(update={"distribution": "mirrored"})
    results = []
    for settings in (run, mirrored):
        network = build_model(tiny_class_counts, tiny_lenet, settings)
        with caplog.at_level("INFO", logger="promotion_cnn"):
            trained, history, timing = train_model(network, tiny_images, tiny_manifest, tiny_lenet, settings)
        results.append(
            (evaluate_model(trained, tiny_images, tiny_manifest, tiny_lenet, settings, history, timing)[0], history)
        )
    (plain, plain_history), (distributed, distributed_history) = results
    assert distribution_strategy(mirrored.model_dump()).num_replicas_in_sync == 1
    assert distribution_strategy(run.model_dump()) is None
    assert plain["val_accuracy"] == distributed["val_accuracy"]
    pd.testing.assert_frame_equal(
        plain_history.drop(columns="seconds"), distributed_history.drop(columns="seconds"), rtol=1e-5
    )
    assert plain_history["loss"].iloc[0] != plain_history["loss"].iloc[1]  # it trained: the comparison means something


def test_multi_worker_trains_the_quick_resnet_on_two_local_workers(
    tmp_path, tiny_digits, tiny_manifest, tiny_class_counts, training, load_parameters, project_root
) -> None:
    quick = load_parameters("quick")["resnet"]  # its training recipe (2 epochs, cosine, crops, keep-best), one stage
    resnet = {**quick, "image_size": 16, "layers": {**quick["layers"], "stage_filters": [8]}}
    run = training.model_copy(update={"distribution": "multi_worker"})
    ImageModel.model_validate(resnet)
    (tmp_path / "spec.json").write_text(
        json.dumps({"model": resnet, "training": run.model_dump(), "images": str(tiny_digits)})
    )
    tiny_manifest.to_parquet(tmp_path / "manifest.parquet")
    tiny_class_counts.to_parquet(tmp_path / "counts.parquet")
    ports = free_ports(2)
    environ = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    environ.update(PYTHONPATH=str(project_root / "src"), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    workers, logs = [], [tmp_path / f"worker_{i}.log" for i in range(2)]
    try:
        for index, log in enumerate(logs):
            with log.open("w") as out:
                workers.append(
                    subprocess.Popen(
                        [sys.executable, "-c", WORKER, str(tmp_path)],
                        env={**environ, "TF_CONFIG": tf_config(ports, index)},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=tmp_path,
                    )
                )
        deadline = time.monotonic() + WORKERS_TIMEOUT
        for worker in workers:
            worker.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=30)
    assert all(worker.poll() is not None for worker in workers)  # no worker left
    outputs = [log.read_text() for log in logs]
    assert [w.returncode for w in workers] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    chief = json.loads((tmp_path / "chief.json").read_text())
    assert chief["replicas"] == 2 and chief["epochs"] == chief["history_epochs"] == 2  # the quick resnet's epochs
    assert 0 <= chief["val_accuracy"] <= 1 and chief["n_val"] == len(tiny_manifest.query("split == 'val'"))
    accuracies = [json.loads(o.strip().splitlines()[-1])["val_accuracy"] for o in outputs]
    assert accuracies[0] == accuracies[1] == chief["val_accuracy"]  # one model: the workers stayed in sync


def test_bad_distribution_settings_are_named(monkeypatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ClusterConfigError, match="distribution multi_worker needs TF_CONFIG"):
        distribution_strategy({"distribution": "multi_worker"})
    with pytest.raises(DistributionError, match="time_budget_minutes must be null with distribution: multi_worker"):
        distribution_strategy({"distribution": "multi_worker", "time_budget_minutes": 5})
    with pytest.raises(DistributionError, match="distribution must be null or one of"):
        distribution_strategy({"distribution": "tpu"})
    with pytest.raises(DistributionError, match=r"batch_size \(2\) is the global batch: it must be at least the 4"):
        distribute_batches(None, SimpleNamespace(num_replicas_in_sync=4), 2)
    with pytest.raises(ValueError, match="distribution"):
        ImageModel.model_validate({"architecture": "lenet", "image_size": 16, "training": {"distribution": "tpu"}})


def test_tf_config_is_checked_and_names_the_chief() -> None:
    assert cluster_config({}) is None and is_chief(None)
    workers = {"cluster": {"worker": ["a:1", "b:1"]}}
    assert is_chief(cluster_config({"TF_CONFIG": json.dumps({**workers, "task": {"type": "worker", "index": 0}})}))
    assert not is_chief(cluster_config({"TF_CONFIG": json.dumps({**workers, "task": {"type": "worker", "index": 1}})}))
    with_chief = {"cluster": {"chief": ["c:1"], "worker": ["a:1"]}}
    assert not is_chief({**with_chief, "task": {"type": "worker", "index": 0}})
    assert is_chief({**with_chief, "task": {"type": "chief", "index": 0}})
    with pytest.raises(ClusterConfigError, match="TF_CONFIG is not JSON"):
        cluster_config({"TF_CONFIG": "{cluster"})
    with pytest.raises(ClusterConfigError, match="TF_CONFIG task worker 2 is not in its cluster"):
        cluster_config({"TF_CONFIG": json.dumps({**workers, "task": {"type": "worker", "index": 2}})})
    with pytest.raises(ClusterConfigError, match="needs a 'task'"):
        cluster_config({"TF_CONFIG": json.dumps({**workers, "task": {"type": "ps", "index": 0}})})


@pytest.mark.parametrize(("index", "saved"), [(0, True), (1, False)])
def test_only_the_chief_run_saves_its_outputs(tmp_path, monkeypatch, index, saved) -> None:
    monkeypatch.setenv("TF_CONFIG", tf_config([1, 2], index))
    catalog = DataCatalog({"doubled": CSVDataset(filepath=str(tmp_path / "doubled.csv"))})
    catalog["numbers"] = pd.DataFrame({"x": [1, 2]})
    pipeline = Pipeline([Node(lambda t: t * 2, "numbers", "doubled", name="double")])
    ChiefOnlyOutputsHook().before_pipeline_run({}, pipeline, catalog)
    catalog.save("doubled", pd.DataFrame({"x": [2, 4]}))
    assert (tmp_path / "doubled.csv").exists() is saved
    assert isinstance(catalog.get("doubled"), MemoryDataset) is not saved
    assert catalog.load("doubled")["x"].tolist() == [2, 4]
