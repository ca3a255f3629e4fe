"""Scaling of `tabular_modelling` on this machine: protocols x fit backends, and Kedro's runners; an estimate past it.

    python benchmarks/scaling.py --env real                          # every mode, benchmarks/results/scaling.{json,md}
    python benchmarks/scaling.py --env real --modes faithful-loky faithful-dask2
    python benchmarks/scaling.py --tiny 1000 --modes default-loky --output /tmp/scaling   # smoke run, generated rows
    python benchmarks/scaling.py --from-json benchmarks/results/scaling.json              # re-render, no run

Modes (``--modes``, run in the order given):

- ``{default,faithful}-{loky,dask1,dask2}``: ``kedro run --pipelines tabular_modelling`` with the committed
  protocol (``default``) or the study-faithful one (``faithful``: the README's ``--params``), the fits on joblib's
  loky backend (the committed ``tabular_protocol.parallel``) or on a Dask ``LocalCluster`` of 1 or 2 worker
  processes (``tabular_protocol.parallel.backend=dask,tabular_protocol.parallel.n_workers=N``), SequentialRunner;
- ``default-thread``, ``default-parallel``: the default protocol on loky under ThreadRunner / ParallelRunner
  (``default-loky`` is the SequentialRunner run).

Each run is a ``git clone`` of ``--source`` (this repository) at ``--ref`` in a temporary folder (no earlier outputs,
conf/local empty, ``../shared`` linked to the one beside ``--source`` for conf/real's table; with ``--tiny N``, conf/local/catalog.yml generates N employees and the parameters shrink the
fits), deleted afterwards. Per run: wall seconds (process start to exit), user + system CPU seconds and the largest
process's peak RSS of the run's process tree (``getrusage(RUSAGE_CHILDREN)`` in a small wrapper process that starts
``kedro run``, so runs do not add up), a 0.5 s sample of every process of the tree (peak RSS per role: the kedro
process, Dask workers, loky workers; peak of the tree's summed RSS), the per-node seconds of the run's own
logs/kedro_run.log (``promotion_cnn.run_timing`` lines), the LocalCluster start-up seconds (from the log's
``N fits for`` to ``Fits on Dask`` lines), every variant's ``fit_seconds`` (the wall seconds inside its fits, summed over
folds: ``data/06_models/<family>/variant_scores.csv``), each family's test metrics, the pickled size of the fits'
training data and the fitted models' files, and the load average and the busiest other processes before and after.
Nothing of the data is written: sizes, seconds and metrics only.

The estimate for 8, 32 and 128 workers (faithful run; image study from benchmarks/results/image_study.json) is
computed from those figures, with its assumptions written next to it (``estimate()``).
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "scaling"
IMAGE_STUDY = REPO / "benchmarks" / "results" / "image_study.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from first_run import machine  # noqa: E402  (same folder: CPU model, cores, RAM)

FAMILIES = ("random_forest", "svm", "hist_gradient_boosting", "logistic_regression")
FIT_NODES = ("evaluate_variants", "fit_selected_model")  # the nodes whose fits go through run_fits
FAITHFUL = (
    "tabular_protocol.cv_folds=0,tabular_protocol.selection_metric=train_accuracy,"
    "tabular_protocol.threshold_source=in_sample,tabular_protocol.train_accuracy_sample=0,svm.threshold.method=default"
)  # the README's study-faithful protocol
TINY = (
    "tabular_protocol.cv_folds=2,tabular_protocol.parallel_fits=1,svm.parallel_fits=1,svm.selection_sample=300,"
    "random_forest.base_params.n_estimators=10,random_forest.variants.n_estimators_500.n_estimators=20,"
    "hist_gradient_boosting.base_params.max_iter=20,assessment.bootstrap.n_boot=10,permutation_importance.n_repeats=1"
)  # --tiny: small fits, one at a time (starting worker processes costs more than tiny fits)
WORKERS = (8, 32, 128)
BANDWIDTH_BYTES_PER_SECOND = 125e6  # 1 Gbit/s between the node's process and the workers (an assumption)
LOG_LINE = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (?P<logger>\S+) - (?P<level>\w+) - (?P<msg>.*)"
)
NODE_SECONDS = re.compile(r"^node (?P<name>\S+): (?P<seconds>[\d.]+) s$")
# wrapper: runs the command, then reports the CPU and peak RSS of everything it (transitively) waited for
WRAPPER = (
    "import json, resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "json.dump({'returncode': code, 'user': u.ru_utime, 'system': u.ru_stime, 'maxrss_kib': u.ru_maxrss},"
    " open(sys.argv[1], 'w'))\n"
    "sys.exit(code)\n"
)
MARKER = "PROMOTION_CNN_SCALING_RUN"  # in every process of a run's tree (inherited): leftovers are found by it


@dataclass(frozen=True)
class Mode:
    protocol: str  # default | faithful
    backend: str  # loky | dask
    n_workers: int | None  # dask LocalCluster worker processes
    runner: str  # SequentialRunner | ThreadRunner | ParallelRunner


MODES = {
    "default-loky": Mode("default", "loky", None, "SequentialRunner"),
    "faithful-loky": Mode("faithful", "loky", None, "SequentialRunner"),
    "faithful-dask2": Mode("faithful", "dask", 2, "SequentialRunner"),
    "faithful-dask1": Mode("faithful", "dask", 1, "SequentialRunner"),
    "default-dask2": Mode("default", "dask", 2, "SequentialRunner"),
    "default-dask1": Mode("default", "dask", 1, "SequentialRunner"),
    "default-thread": Mode("default", "loky", None, "ThreadRunner"),
    "default-parallel": Mode("default", "loky", None, "ParallelRunner"),
}


def kedro_args(mode: Mode, env: str | None, tiny: bool) -> list[str]:
    params = [TINY] if tiny else []
    if mode.protocol == "faithful":
        params.append(FAITHFUL)
    if mode.backend == "dask":
        params.append(f"tabular_protocol.parallel.backend=dask,tabular_protocol.parallel.n_workers={mode.n_workers}")
    args = ["run", "--pipelines", "tabular_modelling", "--runner", mode.runner]
    if env:
        args += ["--env", env]
    if params:
        args += ["--params", ",".join(params)]
    return args


# ---------------------------------------------------------------------------------------------- the machine's state
def load_and_others(exclude: set[int]) -> dict[str, Any]:
    """The load average, `uptime`'s line and the busiest processes not of this benchmark (name and CPU % only)."""
    import psutil

    procs = [p for p in psutil.process_iter(["pid", "name"]) if p.info["pid"] not in exclude]
    for p in procs:  # cpu_percent needs two readings
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(1.0)
    busy = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            busy.append((p.cpu_percent(None), program(p)))
    busy = [{"name": name, "cpu_percent": round(cpu)} for cpu, name in sorted(busy, reverse=True)[:6] if cpu >= 5]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {"load_average": [round(x, 2) for x in os.getloadavg()], "uptime": uptime, "busiest_processes": busy}


def program(process: Any) -> str:
    """What a process runs, without its arguments: ``python -m pytest``, ``python kedro``, ``ld``."""
    try:
        cmdline = process.cmdline()
    except Exception:
        cmdline = []
    name = process.info["name"]
    if "-m" in cmdline[:-1]:
        return f"{name} -m {cmdline[cmdline.index('-m') + 1]}"[:60]
    if "-c" in cmdline[:2]:
        return f"{name} -c"
    script = next((Path(a).name for a in cmdline[1:2] if not a.startswith("-")), "")
    return f"{name} {script}".strip()[:60]


def role(cmdline: list[str], is_root: bool) -> str:
    line = " ".join(cmdline)
    if is_root:
        return "kedro"
    if "resource_tracker" in line:
        return "resource_tracker"
    if "loky" in line:
        return "loky_worker"
    if "spawn_main" in line or "multiprocessing-fork" in line or "forkserver" in line:
        return "spawned_worker"  # a Dask worker (dask modes) or a ParallelRunner worker
    return "other"


class TreeSampler(threading.Thread):
    """Every ``interval`` s, the RSS of each process below ``pid`` (the wrapper), by role, and the tree's sum."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.stop = pid, interval, threading.Event()
        self.peak_by_role: dict[str, int] = {}
        self.peak_tree = 0
        self.series: list[tuple[float, int]] = []  # (time, the tree's summed RSS) at every sample
        self.roles_seen: dict[str, set[int]] = {}

    def run(self) -> None:
        import psutil

        try:
            wrapper = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.stop.is_set():
            try:
                children = wrapper.children(recursive=True)
            except psutil.Error:
                break
            total = 0
            for child in children:
                try:
                    rss = child.memory_info().rss
                    name = role(child.cmdline(), child.ppid() == self.pid)
                except psutil.Error:
                    continue
                total += rss
                self.peak_by_role[name] = max(self.peak_by_role.get(name, 0), rss)
                self.roles_seen.setdefault(name, set()).add(child.pid)
            self.peak_tree = max(self.peak_tree, total)
            self.series.append((time.time(), total))
            self.stop.wait(self.interval)


def leftovers(marker: str) -> list[dict]:
    """Processes still carrying this run's marker (none should); they are ours, so they are stopped, by pid."""
    import psutil

    found = []
    for p in psutil.process_iter(["pid", "name"]):
        try:
            if p.environ().get(MARKER) == marker:
                found.append(p)
        except psutil.Error:
            continue
    for p in found:
        with contextlib.suppress(psutil.Error):
            p.kill()
    return [{"pid": p.info["pid"], "name": p.info["name"]} for p in found]


def run_wrapped(
    kedro: list[str], cwd: Path, env: dict[str, str], console: Path, usage_file: Path
) -> tuple[int, float, dict[str, Any], TreeSampler]:
    """``python -m kedro <kedro>`` under ``WRAPPER``, its process tree sampled, output to ``console``: the return
    code, wall seconds, the wrapper's usage (CPU seconds, peak RSS of the largest process; {} if none) and the
    sampler."""
    started = time.monotonic()
    with console.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", WRAPPER, str(usage_file), sys.executable, "-m", "kedro", *kedro],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        sampler = TreeSampler(process.pid)
        sampler.start()
        returncode = process.wait()
        sampler.stop.set()
        sampler.join()
    usage = json.loads(usage_file.read_text()) if usage_file.exists() else {}
    return returncode, time.monotonic() - started, usage, sampler


# ------------------------------------------------------------------------------------------------- reading a run
def log_lines(clone: Path) -> list[tuple[float, str, str]]:
    """(time, logger, message) of the run's logs/kedro_run.log (rotated parts first)."""
    files = sorted((clone / "logs").glob("kedro_run.log.*"), key=lambda p: -int(p.suffix[1:])) + [
        clone / "logs" / "kedro_run.log"
    ]
    out = []
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if match := LOG_LINE.match(line):
                stamp = datetime.strptime(match["stamp"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                out.append((stamp, match["logger"], match["msg"]))
    return out


def node_seconds(lines: list[tuple[float, str, str]]) -> dict[str, float]:
    out = {}
    for _, logger, message in lines:
        if logger == "promotion_cnn.run_timing" and (match := NODE_SECONDS.match(message)):
            out[match["name"]] = float(match["seconds"])
    return out


def cluster_starts(lines: list[tuple[float, str, str]]) -> list[float]:
    """Seconds from an ``N fits for`` line to the next ``Fits on Dask`` line (a LocalCluster's start and connect)."""
    out, pending = [], None
    for stamp, logger, message in lines:
        if logger.endswith("cross_validation") and " fits for " in message:
            pending = stamp
        elif message.startswith("Fits on Dask") and pending is not None:
            out.append(round(stamp - pending, 3))
            pending = None
    return out


def variant_fits(clone: Path) -> dict[str, list[dict]]:
    """Per family: each variant's fits (1, or k folds) and their summed wall seconds, from its variant table."""
    import pandas as pd

    out = {}
    for family in FAMILIES:
        path = clone / "data" / "06_models" / family / "variant_scores.csv"
        if not path.exists():
            continue
        table = pd.read_csv(path)
        rows = []
        for _, row in table.iterrows():
            method = row.get("cv_method")
            folds = int(str(method).split("_")[0]) if isinstance(method, str) and method.endswith("_fold") else 1
            rows.append(
                {
                    "variant": row["variant"],
                    "fits": folds,
                    "fit_seconds": float(row["fit_seconds"]),
                    "rows": int(row["rows"]),
                }
            )
        out[family] = rows
    return out


def latest(path: Path) -> Path | None:
    """A versioned dataset's newest file (``<name>/<version>/<name>``), or the plain file."""
    if path.is_file():
        return path
    versions = sorted(path.glob(f"*/{path.name}")) if path.is_dir() else []
    return versions[-1] if versions else None


def test_metrics(clone: Path) -> dict[str, dict]:
    out = {}
    for family in FAMILIES:
        if found := latest(clone / "data" / "08_reporting" / family / "test_metrics.json"):
            metrics = json.loads(found.read_text())
            out[family] = {k: metrics[k] for k in ("f1", "roc_auc", "accuracy") if k in metrics}
    return out


def sizes(clone: Path) -> dict[str, Any]:
    """Pickled bytes of the fits' training data (what is scattered to every worker per node) and model file sizes."""
    import pandas as pd

    out: dict[str, Any] = {}
    for name, folder in (("study_features", "05_model_input"), ("full_features", "05_model_input/full")):
        x_path, y_path = (
            clone / "data" / folder / "features_train.parquet",
            clone / "data" / folder / "target_train.parquet",
        )
        if x_path.exists() and y_path.exists():
            x = pd.read_parquet(x_path).reset_index(drop=True)
            y = pd.read_parquet(y_path).iloc[:, 0].to_numpy()
            out[f"{name}_train_pickled_bytes"] = len(pickle.dumps((x, y), protocol=pickle.HIGHEST_PROTOCOL))
            out[f"{name}_train_shape"] = list(x.shape)
    models = {}
    for family in FAMILIES:
        folder = clone / "data" / "06_models" / family
        if found := latest(folder / "model.pkl"):
            models[f"{family}/model.pkl"] = found.stat().st_size
        if (folder / "fitted_variants.pkl").exists():
            models[f"{family}/fitted_variants.pkl"] = (folder / "fitted_variants.pkl").stat().st_size
    out["model_file_bytes"] = models
    return out


# ------------------------------------------------------------------------------------------------- running a mode
def run_mode(name: str, mode: Mode, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="scaling_"))
    try:
        clone = tmp / "promotion_cnn"
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(args.source), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", args.ref], check=True)
        commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True)
        (clone / "conf" / "local").mkdir(exist_ok=True)
        shared = args.source.resolve().parent / "shared"
        if shared.is_dir():  # conf/real reads ../shared/datasets: the clone sees the same folder beside it
            (tmp / "shared").symlink_to(shared, target_is_directory=True)
        if args.tiny:
            (clone / "conf" / "local" / "catalog.yml").write_text(
                "employees_raw:\n  type: promotion_cnn.datasets.SyntheticEmployeesDataset\n"
                f"  n_rows: {args.tiny}\n  seed: 1\n"
            )
        kedro = kedro_args(mode, args.env, bool(args.tiny))
        usage_file, console = tmp / "usage.json", tmp / "console.txt"
        marker = f"{os.getpid()}-{name}-{time.time()}"
        env = {
            **os.environ,
            "PYTHONPATH": str(clone / "src"),
            "KEDRO_DISABLE_TELEMETRY": "true",
            "MPLBACKEND": "Agg",
            "COLUMNS": "120",
            MARKER: marker,
        }
        env.pop("KEDRO_LOGGING_CONFIG", None)  # the clone's conf/logging.yml: its logs/kedro_run.log is read
        before = load_and_others({os.getpid()})
        print(
            f"[{time.strftime('%H:%M:%S')}] {name}: kedro {' '.join(kedro)} (load {before['load_average']})", flush=True
        )
        returncode, wall, usage, sampler = run_wrapped(kedro, clone, env, console, usage_file)
        left = leftovers(marker)
        after = load_and_others({os.getpid()})
        if returncode != 0:  # the console may show rows of the table: printed here, never written to the results
            print("\n".join(console.read_text(errors="replace").splitlines()[-40:]), flush=True)
        lines = log_lines(clone)
        nodes = node_seconds(lines)
        result = {
            "mode": name,
            **asdict(mode),
            "commit": commit.stdout.strip(),
            "command": " ".join(["kedro", *kedro]),
            "returncode": returncode,
            "wall_seconds": round(wall, 1),
            "cpu_seconds": round(usage.get("user", 0) + usage.get("system", 0), 1) if usage else None,
            "cpu_user_seconds": round(usage["user"], 1) if usage else None,
            "largest_process_peak_rss_mib": round(usage["maxrss_kib"] / 1024, 1) if usage else None,
            "sampled_peak_rss_mib": {k: round(v / 2**20, 1) for k, v in sorted(sampler.peak_by_role.items())},
            "sampled_processes": {k: len(v) for k, v in sorted(sampler.roles_seen.items())},
            "sampled_peak_tree_rss_mib": round(sampler.peak_tree / 2**20, 1),
            "load_before": before,
            "load_after": after,
            "node_seconds": nodes,
            "nodes_total_seconds": round(sum(nodes.values()), 1),
            "fit_node_seconds": {k: v for k, v in nodes.items() if k.rsplit(".", 1)[-1] in FIT_NODES},
            "cluster_start_seconds": cluster_starts(lines),
            "variant_fits": variant_fits(clone),
            "test_metrics": test_metrics(clone),
            "sizes": sizes(clone),
            "leftover_processes": left,
        }
        print(
            f"[{time.strftime('%H:%M:%S')}] {name}: exit {returncode}, {wall:.0f} s wall, "
            f"{result['cpu_seconds']} s CPU, load after {after['load_average']}",
            flush=True,
        )
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------------- the estimate
def makespan(durations: list[float], workers: int, longest_first: bool = False) -> float:
    """List scheduling of independent tasks on ``workers`` identical workers, each task to the first free worker:
    in their order (as joblib dispatches a node's fits), or longest first (a plan, for the CNNs)."""
    loads = [0.0] * max(1, min(workers, len(durations)))
    heapq.heapify(loads)
    for d in sorted(durations, reverse=True) if longest_first else durations:
        heapq.heappush(loads, heapq.heappop(loads) + d)
    return max(loads) if durations else 0.0


def per_fit(variants: list[dict]) -> list[float]:
    """Each fit's seconds: a variant's summed fit_seconds split evenly over its folds (per fold not recorded)."""
    return [v["fit_seconds"] / v["fits"] for v in variants for _ in range(v["fits"])]


def fit_node_overheads(run: dict) -> dict[str, dict]:
    """Per evaluate_variants node of a Dask run: node seconds minus the LPT makespan of its fits on its workers."""
    out = {}
    for family, variants in run["variant_fits"].items():
        node = run["node_seconds"].get(f"{family}.evaluate_variants")
        if node is None:
            continue
        fits = per_fit(variants)
        span = makespan(fits, run["n_workers"] or 1)
        out[family] = {
            "node_seconds": node,
            "fits": len(fits),
            "fit_seconds_sum": round(sum(fits), 2),
            "makespan_seconds": round(span, 2),
            "overhead_seconds": round(node - span, 2),
            "overhead_per_fit_seconds": round((node - span) / len(fits), 3),
        }
    return out


def estimate(runs: dict[str, dict], image_rows: list[dict] | None) -> dict[str, Any]:
    """Wall time of the faithful run and of the image study's training at 8, 32 and 128 workers.

    Faithful run: T(p) = S + sum over the four evaluate_variants nodes of [LPT makespan of the node's fits on p
    workers + O_node + p x B / bandwidth]. S (the serial part): the faithful loky run's wall time minus its
    evaluate_variants nodes (session start, processing, the other nodes, tracking; fit_selected_model fits nothing
    with cv_folds 0). Per-fit seconds: the 1-worker Dask run's (one fit at a time: no other fit on the cores),
    else the 2-worker run's. O_node: the 2-worker Dask run's node seconds minus the makespan of its fits on 2
    workers (scatter, dispatch, results, the node's own work), less that run's LocalCluster start (a standing
    cluster has started already). B: the pickled training data the node broadcasts, once per worker.
    """
    out: dict[str, Any] = {"workers": list(WORKERS), "assumptions": [], "faithful": None, "image_study": None}
    base = runs.get("faithful-loky")
    dask2 = runs.get("faithful-dask2") or runs.get("faithful-dask1")
    if base and dask2 and base["returncode"] == 0 and dask2["returncode"] == 0:
        fit_nodes = {f: base["node_seconds"].get(f"{f}.evaluate_variants", 0.0) for f in FAMILIES}
        serial = base["wall_seconds"] - sum(fit_nodes.values())
        overheads = fit_node_overheads(dask2)
        starts = dask2["cluster_start_seconds"]
        start = sum(starts) / len(starts) if starts else 0.0
        data_bytes = {
            "random_forest": dask2["sizes"].get("study_features_train_pickled_bytes", 0),
            "svm": dask2["sizes"].get("study_features_train_pickled_bytes", 0),
            "hist_gradient_boosting": dask2["sizes"].get("full_features_train_pickled_bytes", 0),
            "logistic_regression": dask2["sizes"].get("full_features_train_pickled_bytes", 0),
        }
        faithful = [r for n, r in runs.items() if n.startswith("faithful-") and r["returncode"] == 0]
        source = {f: min(faithful, key=lambda r: sum(per_fit(r["variant_fits"].get(f, [])))) for f in FAMILIES}
        fits = {f: per_fit(source[f]["variant_fits"][f]) for f in FAMILIES if f in source[f]["variant_fits"]}
        rows = []
        measured = {1: runs.get("faithful-dask1"), 2: runs.get("faithful-dask2")}
        for p in (1, 2, *WORKERS):
            parts = {}
            for family, durations in fits.items():
                o = overheads.get(family, {}).get("overhead_seconds", 0.0) - (start if p in WORKERS else 0.0)
                o = max(0.0, o)
                parts[family] = makespan(durations, p) + o + p * data_bytes[family] / BANDWIDTH_BYTES_PER_SECOND
            amdahl = serial + sum(sum(d) for d in fits.values()) / p
            rows.append(
                {
                    "workers": p,
                    "cluster": "LocalCluster per node" if p not in WORKERS else "standing cluster",
                    "wall_seconds": round(serial + sum(parts.values()), 1),
                    "measured_wall_seconds": measured[p]["wall_seconds"] if measured.get(p) else None,
                    "amdahl_seconds": round(amdahl, 1),
                    "fit_nodes_seconds": {k: round(v, 1) for k, v in parts.items()},
                }
            )
        out["faithful"] = {
            "serial_seconds": round(serial, 1),
            "serial_from": "faithful-loky",
            "per_fit_from": {f: source[f]["mode"] for f in fits},
            "overhead_from": dask2["mode"],
            "fits": {f: len(d) for f, d in fits.items()},
            "fit_seconds_sum": round(sum(sum(d) for d in fits.values()), 1),
            "longest_fit_seconds": {f: round(max(d), 1) for f, d in fits.items() if d},
            "cluster_start_seconds_mean": round(start, 2),
            "node_overheads": overheads,
            "scattered_bytes": data_bytes,
            "rows": rows,
        }
        out["assumptions"] += [
            "fits are independent (they are: one task each, no shared state) and a worker runs one at a time, taking "
            "as long as in the faithful run on this machine where that family's fits took least in all (the same "
            "fits, least contended for the 2 cores: "
            + ", ".join(f"{f}: {source[f]['mode']}" for f in fits)
            + "; a forest's fit uses its 2 threads)",
            f"the serial part ({serial:.0f} s: the faithful loky run's wall time outside its evaluate_variants nodes) "
            "is unchanged; nodes run one after another (SequentialRunner), each node's fits spread over all workers "
            "(in their order, each to the first free worker)",
            f"per node the cluster overhead measured in the {dask2['mode']} run (node seconds minus its fits' "
            "makespan on its workers) stays, minus the LocalCluster start-up "
            f"({start:.1f} s per node on average: a standing cluster at scheduler_address has started already)",
            "the training data is broadcast to every worker once per node at 1 Gbit/s (bytes = its pickled size "
            "measured here), one copy per worker",
            "'amdahl_seconds' is the plain S + W/p (every fit divisible): a lower bound the real run cannot reach "
            "past a node's longest fit",
        ]
    if image_rows:
        minutes = {r["model"]: r["train_minutes"] for r in image_rows}
        rows = [
            {"workers": p, "train_minutes": round(makespan(list(minutes.values()), p, longest_first=True), 1)}
            for p in (1, 2, *WORKERS)
        ]
        longest = max(minutes, key=minutes.get)
        out["image_study"] = {
            "cnns": len(minutes),
            "train_minutes": minutes,
            "train_minutes_sum": round(sum(minutes.values()), 1),
            "longest": {"model": longest, "train_minutes": minutes[longest]},
            "rows": rows,
        }
        out["assumptions"] += [
            f"image study: the {len(minutes)} CNNs' committed training minutes (image_study.json, this 2-core VM), "
            "one CNN per worker at most (each namespace is independent; a worker = this machine), longest first; "
            "the image processing before training and the evaluation after are not in those figures and not added",
        ]
    return out


# ------------------------------------------------------------------------------------------------- the report
def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown(result: dict[str, Any]) -> str:
    info, runs = result["machine"], result["runs"]
    out = [
        "# Scaling of `tabular_modelling` on this machine",
        "",
        f"Written by `{result['command']}` ({result['written']}).",
        "",
        f"- machine: {info['cpu_model']}, {info['cores_usable']} cores usable, {info['memory_gib']} GiB RAM, "
        f"GPU: {info['gpu']}, Python {info['python']}",
        f"- environment: `{result['env'] or 'base'}`"
        + (f", tiny: {result['tiny']} generated rows" if result["tiny"] else ""),
        "- every run in its own fresh clone (conf/local empty), one after another; the machine is shared, so each "
        "run's load average (1 min) before and after is in the table, the busiest other processes in the JSON",
        "",
        "| mode | runner | fits on | exit | wall s | nodes s | fit nodes s | CPU s | largest process MiB | "
        "tree MiB (sampled) | Dask worker MiB | load before → after |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in runs.items():
        if "skipped" in r:
            out.append(f"| {name} | | | skipped: {r['skipped']} | | | | | | | | |")
            continue
        fits_on = "loky" if r["backend"] == "loky" else f"Dask LocalCluster, {r['n_workers']} worker(s)"
        worker = r["sampled_peak_rss_mib"].get("spawned_worker") if r["backend"] == "dask" else None
        out.append(
            f"| {name} | {r['runner']} | {fits_on} | {r['returncode']} | {fmt(r['wall_seconds'])} | "
            f"{fmt(r['nodes_total_seconds'])} | {fmt(round(sum(r['fit_node_seconds'].values()), 1))} | "
            f"{fmt(r['cpu_seconds'])} | {fmt(r['largest_process_peak_rss_mib'])} | "
            f"{fmt(r['sampled_peak_tree_rss_mib'])} | {fmt(worker)} | "
            f"{r['load_before']['load_average'][0]} → {r['load_after']['load_average'][0]} |"
        )
    done = {n: r for n, r in runs.items() if "skipped" not in r}
    if done:
        out += ["", "Commands (in the clone, `PYTHONPATH=<clone>/src`):", ""]
        out += [f"- {n}: `{r['command']}`" for n, r in done.items()]
        out += ["", "## Fit nodes (seconds)", "", "| node | " + " | ".join(done) + " |", "|---|" + "---:|" * len(done)]
        names = sorted({k for r in done.values() for k in r["fit_node_seconds"]})
        for node in names:
            out.append(f"| {node} | " + " | ".join(fmt(r["fit_node_seconds"].get(node)) for r in done.values()) + " |")
        out += [
            "",
            "## Variant fits: count and summed `fit_seconds` (wall seconds inside the fits) per family",
            "",
            "| family | " + " | ".join(done) + " |",
            "|---|" + "---:|" * len(done),
        ]
        for family in FAMILIES:
            cells = []
            for r in done.values():
                v = r["variant_fits"].get(family)
                cells.append(f"{sum(x['fits'] for x in v)} / {fmt(sum(x['fit_seconds'] for x in v))}" if v else "–")
            out.append(f"| {family} | " + " | ".join(cells) + " |")
        out += ["", "## Test F1 per family", "", "| family | " + " | ".join(done) + " |", "|---|" + "---:|" * len(done)]
        for family in FAMILIES:
            out.append(
                f"| {family} | "
                + " | ".join(fmt(r["test_metrics"].get(family, {}).get("f1"), 4) for r in done.values())
                + " |"
            )
        dask_runs = {n: r for n, r in done.items() if r["backend"] == "dask"}
        if dask_runs:
            out += [
                "",
                "## Dask overhead per evaluate_variants node",
                "",
                "node seconds minus the makespan of the node's fits (in order, each to the first free worker; their own `fit_seconds`) on the "
                "run's workers; LocalCluster start = log time from the node's `N fits for` line to `Fits on Dask`",
                "",
                "| run | family | fits | fit s (sum) | makespan s | node s | overhead s | per fit s |",
                "|---|---|---:|---:|---:|---:|---:|---:|",
            ]
            for name, r in dask_runs.items():
                for family, o in fit_node_overheads(r).items():
                    out.append(
                        f"| {name} | {family} | {o['fits']} | {fmt(o['fit_seconds_sum'])} | {fmt(o['makespan_seconds'])} "
                        f"| {fmt(o['node_seconds'])} | {fmt(o['overhead_seconds'])} | {fmt(o['overhead_per_fit_seconds'], 2)} |"
                    )
            out.append("")
            for name, r in dask_runs.items():
                starts = r["cluster_start_seconds"]
                if starts:
                    out.append(
                        f"- {name}: LocalCluster start {fmt(min(starts), 2)}–{fmt(max(starts), 2)} s "
                        f"({len(starts)} evaluate_variants nodes)"
                    )
        first = next(iter(done.values()))["sizes"]
        out += ["", "## Sizes (what a worker holds)", ""]
        for key in ("study_features", "full_features"):
            if f"{key}_train_pickled_bytes" in first:
                out.append(
                    f"- `{key}` training data, pickled (scattered to every worker per node): "
                    f"{first[f'{key}_train_pickled_bytes'] / 1e6:.1f} MB, shape {first[f'{key}_train_shape']}"
                )
        for name, r in done.items():
            files = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in r["sizes"]["model_file_bytes"].items())
            out.append(f"- {name} model files: {files}")
    est = result.get("estimate") or {}
    if est.get("faithful") or est.get("image_study"):
        out += ["", "## Estimate past this machine", ""]
        out += [f"- {a}" for a in est["assumptions"]]
    if f := est.get("faithful"):
        out += [
            "",
            f"Faithful run: serial part {fmt(f['serial_seconds'])} s, {sum(f['fits'].values())} fits, "
            f"{fmt(f['fit_seconds_sum'])} fit-seconds, longest fit per family: "
            + ", ".join(f"{k} {fmt(v)} s" for k, v in f["longest_fit_seconds"].items()),
            "",
            "| workers | cluster | estimated wall s | measured wall s | Amdahl S + W/p (s) | "
            + " | ".join(f"{k} s" for k in f["rows"][0]["fit_nodes_seconds"])
            + " |",
            "|---:|---|---:|---:|---:|" + "---:|" * len(f["rows"][0]["fit_nodes_seconds"]),
        ]
        for row in f["rows"]:
            out.append(
                f"| {row['workers']} | {row['cluster']} | {fmt(row['wall_seconds'])} | "
                f"{fmt(row['measured_wall_seconds'])} | {fmt(row['amdahl_seconds'])} | "
                + " | ".join(fmt(v) for v in row["fit_nodes_seconds"].values())
                + " |"
            )
    if i := est.get("image_study"):
        out += [
            "",
            f"Image study: {i['cnns']} CNNs, {fmt(i['train_minutes_sum'])} training minutes in all, the longest "
            f"{i['longest']['model']} ({fmt(i['longest']['train_minutes'])} min)",
            "",
            "| workers | training wall minutes |",
            "|---:|---:|",
            *(f"| {row['workers']} | {fmt(row['train_minutes'])} |" for row in i["rows"]),
        ]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default=None, help="Kedro environment (real: the study's table); default base")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES), help="modes, in this order")
    parser.add_argument("--output", type=Path, default=RESULTS, help="results path without suffix (.json, .md)")
    parser.add_argument("--source", type=Path, default=REPO, help="repository to clone (default: this one)")
    parser.add_argument("--ref", default="HEAD", help="commit to run (default HEAD: uncommitted changes do not run)")
    parser.add_argument("--tiny", type=int, default=None, help="N generated employees and small fits (a smoke run)")
    parser.add_argument("--budget-minutes", type=float, default=None, help="skip a mode that would end past this")
    parser.add_argument("--merge", action="store_true", help="keep the other modes of an existing --output JSON")
    parser.add_argument("--from-json", type=Path, help="re-render the markdown and the estimate of a JSON, no run")
    args = parser.parse_args()
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        previous = {}
        if args.merge and args.output.with_suffix(".json").exists():
            previous = json.loads(args.output.with_suffix(".json").read_text())["runs"]
        command = ["python", "benchmarks/scaling.py"] + sys.argv[1:]
        result = {"command": " ".join(command), "env": args.env, "tiny": args.tiny, "machine": machine(), "runs": {}}
        result["runs"].update(previous)
        started, last = time.monotonic(), 0.0
        for name in args.modes:
            elapsed = (time.monotonic() - started) / 60
            if args.budget_minutes and elapsed + last / 60 > args.budget_minutes:
                result["runs"][name] = {"skipped": f"budget ({elapsed:.0f} of {args.budget_minutes:.0f} min used)"}
                continue
            result["runs"][name] = run_mode(name, MODES[name], args)
            last = result["runs"][name]["wall_seconds"]
            write(result, args.output)  # after every run: a later failure keeps the runs made
    write(result, args.output)
    print(f"Wrote {args.output.with_suffix('.json')} and .md")
    return max((r.get("returncode", 0) for r in result["runs"].values()), default=0)


def write(result: dict[str, Any], output: Path) -> None:
    """The JSON and the markdown, the estimate recomputed from the runs made so far."""
    result["written"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    image_rows = json.loads(IMAGE_STUDY.read_text()) if IMAGE_STUDY.exists() else None
    result["estimate"] = estimate({k: v for k, v in result["runs"].items() if "skipped" not in v}, image_rows)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown(result))


if __name__ == "__main__":
    sys.exit(main())
