"""The benchmark scripts call the node functions directly: a smoke run on tiny data keeps them in step with the nodes."""

import importlib.util
from pathlib import Path

from promotion_cnn.datasets.synthetic_employees import generate_employees

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _load(script: str):
    spec = importlib.util.spec_from_file_location(script, PROJECT_ROOT / "benchmarks" / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tabular_seeds_runs_one_split_on_tiny_data(fast_params):
    seeds = _load("tabular_seeds")
    boosting = fast_params["hist_gradient_boosting"]
    params = {
        **fast_params,
        "hist_gradient_boosting": {**boosting, "base_params": {**boosting["base_params"], "max_iter": 20}},
    }
    families = ["logistic_regression", "hist_gradient_boosting"]
    params = seeds.typed(params, families)
    validated, features = seeds.full_features(generate_employees(1500, seed=3), params)
    run = seeds.run_seed(validated, features, params, families, seed=1)
    assert set(run["families"]) == {"logistic_regression", "hist_gradient_boosting"}
    test = run["families"]["logistic_regression"]["test"]
    assert 0.5 < test["roc_auc"] <= 1 and test["f1"] <= test["f1_test_optimal"] <= 1
    table = seeds.aggregate([run], ["logistic_regression", "hist_gradient_boosting"])
    assert "recommender" in seeds.render_markdown(
        {"env": "t", "machine": "m", "command": "c", "wall_seconds": 1, "seeds": [1], "test_size": 0.25, "runs": [run]},
        table,
    )


def test_scaling_runs_one_mode_on_tiny_data(tmp_path):
    """benchmarks/scaling.py end to end on 1,000 generated rows: one fresh-clone run (loky, SequentialRunner)."""
    import json
    import subprocess
    import sys

    output = tmp_path / "scaling"
    subprocess.run(
        [sys.executable, "benchmarks/scaling.py", "--tiny", "1000", "--modes", "default-loky", "--output", str(output)],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    result = json.loads(output.with_suffix(".json").read_text())
    assert {"command", "machine", "runs", "estimate", "tiny"} <= set(result)
    assert {"cpu_model", "cores_usable", "memory_gib"} <= set(result["machine"])
    run = result["runs"]["default-loky"]
    assert run["returncode"] == 0 and run["runner"] == "SequentialRunner" and run["backend"] == "loky"
    assert run["wall_seconds"] > 0 and run["cpu_seconds"] > 0 and run["largest_process_peak_rss_mib"] > 0
    assert "load_average" in run["load_before"] and "load_average" in run["load_after"]
    assert run["node_seconds"]["svm.evaluate_variants"] >= 0 and run["commit"]
    assert set(run["variant_fits"]) == {"random_forest", "svm", "hist_gradient_boosting", "logistic_regression"}
    assert run["sizes"]["study_features_train_pickled_bytes"] > 0 and run["leftover_processes"] == []
    assert result["estimate"]["image_study"]["cnns"] == 10  # from the committed image_study.json
    assert "default-loky" in output.with_suffix(".md").read_text()
