"""Serving benchmark: requests/s and p50/p99 latency of the HTTP scoring service, beside the batch pipeline's rows/s.

Starts ``python -m promotion_cnn.serving`` (the project's current recommender) on a free port of 127.0.0.1 in its
own process group, sends a bounded number of requests of 1, 100 and 10,000 generated employees with 1 and 8
concurrent clients, stops the group, then times ``kedro run --pipelines promotion_scoring`` on 10,000 employees.
Writes benchmarks/results/serving.{json,md}. Run from the project root after ``kedro run`` (or tabular_modelling):

    python benchmarks/serving.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from promotion_cnn.datasets import generate_employees
from promotion_cnn.local_processes import free_port, stop

logger = logging.getLogger("benchmarks.serving")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PLAN = [(1, 1, 200), (1, 8, 240), (100, 1, 80), (100, 8, 120), (10_000, 1, 6), (10_000, 8, 16)]  # rows, clients, n
BATCH_ROWS = 10_000


def start_service(port: int) -> subprocess.Popen:
    """The service in its own process group; returns once /health answers."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "KEDRO_DISABLE_TELEMETRY": "true"}
    command = [sys.executable, "-m", "promotion_cnn.serving", "--project", str(ROOT), "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.5)
    stop(process)
    raise RuntimeError("the service did not start")


def load(port: int, body: bytes, clients: int, n_requests: int) -> dict[str, float]:
    """``n_requests`` POSTs of ``body`` from ``clients`` threads, each on its own keep-alive connection."""
    per_client = [n_requests // clients + (i < n_requests % clients) for i in range(clients)]

    def client(count: int) -> list[tuple[float, int]]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        timings = []
        for _ in range(count):
            started = time.perf_counter()
            connection.request("POST", "/score", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            timings.append((time.perf_counter() - started, response.status))
        connection.close()
        return timings

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [t for timings in pool.map(client, per_client) for t in timings]
    elapsed = time.perf_counter() - started
    latencies = np.array([seconds for seconds, _ in results]) * 1000
    statuses = [status for _, status in results]
    return {
        "requests": len(results),
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(results) / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "max_ms": round(float(latencies.max()), 2),
        "errors_5xx": sum(status >= 500 for status in statuses),
        "non_200": sum(status != 200 for status in statuses),
    }


def batch_run(rows: int) -> dict[str, float]:
    """``kedro run --pipelines promotion_scoring`` on ``rows`` generated employees (a temporary environment)."""
    env_dir = ROOT / "conf" / "bench_serving"
    env_dir.mkdir(exist_ok=True)
    (env_dir / "catalog.yml").write_text(
        "employees_to_score:\n  type: promotion_cnn.datasets.SyntheticEmployeesDataset\n"
        f"  n_rows: {rows}\n  seed: 123\n  include_target: false\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "KEDRO_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "kedro", "run", "--pipelines", "promotion_scoring", "--env", "bench_serving"]
    try:
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=900)
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(env_dir)
    return {"rows": rows, "seconds": round(elapsed, 2), "rows_per_second": round(rows / elapsed, 1)}


def in_process(rows: int, single_calls: int = 50) -> dict[str, float]:
    """The scoring nodes alone (no session, no HTTP), as the service runs them: rows/s on ``rows`` employees, and
    one employee's wall and CPU milliseconds (CPU time moves less with the machine's load than wall time)."""
    sys.path.insert(0, str(ROOT / "src"))
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from promotion_cnn.serving import RecommenderScorer, scoring_parameters
    from promotion_cnn.serving.__main__ import quiet_request_logs

    bootstrap_project(ROOT)
    with KedroSession.create(project_path=ROOT) as session:
        context = session.load_context()
        scorer = RecommenderScorer(context.catalog.load("recommender"), scoring_parameters(context.params))
    quiet_request_logs()  # as the service
    employees = generate_employees(rows, seed=123).drop(columns="is_promoted")
    scorer.score(employees)
    started = time.perf_counter()
    scorer.score(employees)
    rows_per_second = rows / (time.perf_counter() - started)
    one = employees.head(1)
    walls, cpus = [], []
    for _ in range(single_calls):
        wall, cpu = time.perf_counter(), time.process_time()
        scorer.score(one)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return {
        "rows_per_second": round(rows_per_second, 1),
        "single_employee_wall_ms_p50": round(float(np.percentile(walls, 50)), 2),
        "single_employee_cpu_ms_p50": round(float(np.percentile(cpus, 50)), 2),
        "single_employee_wall_ms_p99": round(float(np.percentile(walls, 99)), 2),
        "single_employee_cpu_ms_p99": round(float(np.percentile(cpus, 99)), 2),
    }


def markdown(results: dict) -> str:
    lines = [
        "# Serving benchmark",
        "",
        f"`{results['command']}` on {results['date']}: {results['machine']}.",
        f"Load average before / after: {results['load_before']} / {results['load_after']} "
        "(the machine is shared with other work: figures move with the load).",
        f"Recommender: {results['model']}.",
        "",
        "| employees / request | clients | requests | req/s | employees/s | p50 ms | p99 ms | max ms | 5xx |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["service"]:
        lines.append(
            f"| {r['rows']:,} | {r['clients']} | {r['requests']} | {r['requests_per_second']} | "
            f"{r['requests_per_second'] * r['rows']:,.0f} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | "
            f"{r['errors_5xx']} |"
        )
    b = results["batch"]
    lines += [
        "",
        f"Batch `kedro run --pipelines promotion_scoring` on {b['rows']:,} employees: {b['seconds']} s wall "
        f"({b['rows_per_second']:,} rows/s, session start and file I/O included); the same scoring nodes in "
        f"process: {results['in_process']['rows_per_second']:,} rows/s; one employee in process: "
        f"{results['in_process']['single_employee_wall_ms_p50']} ms wall, "
        f"{results['in_process']['single_employee_cpu_ms_p50']} ms CPU (p50 of 50 calls; p99 "
        f"{results['in_process']['single_employee_wall_ms_p99']} ms wall, "
        f"{results['in_process']['single_employee_cpu_ms_p99']} ms CPU).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the requests (smoke test)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    load_before = [round(x, 2) for x in os.getloadavg()]
    port = free_port()
    process = start_service(port)
    rows_run = []
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/health")
        health = json.loads(connection.getresponse().read())
        for rows, clients, n in PLAN:
            n = max(clients, n // 10) if args.quick else n
            body = generate_employees(rows, seed=123).drop(columns="is_promoted").to_json(orient="records").encode()
            load(port, body, clients, min(n, 2 * clients))  # warm-up
            result = {"rows": rows, "clients": clients, **load(port, body, clients, n)}
            logger.info("%s", result)
            rows_run.append(result)
    finally:
        stop(process)
    batch = batch_run(BATCH_ROWS)
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/serving.py" + (" --quick" if args.quick else ""),
        "machine": f"{platform.node()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "load_before": load_before,
        "model": f"{health['family']} version {health['model_version']}",
        "service": rows_run,
        "batch": batch,
        "in_process": in_process(BATCH_ROWS),
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serving.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "serving.md").write_text(markdown(results))
    logger.info("Wrote %s", RESULTS / "serving.md")


if __name__ == "__main__":
    main()
