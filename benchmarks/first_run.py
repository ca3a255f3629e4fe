"""The new user's first `kedro run`: time it in a fresh clone of the committed tree, node by node.

    python benchmarks/first_run.py                 # HEAD of this repository, writes benchmarks/results/first_run.{md,json}
    python benchmarks/first_run.py --ref <commit> --output /tmp/before   # any commit, results elsewhere

What it does:

1. ``git clone`` the repository into a temporary folder and check out ``--ref``: no earlier outputs, no
   conf/local, nothing git-ignored (the situation of a user who has just cloned and installed).
2. Runs ``kedro run`` (the default pipeline) there, with ``PYTHONPATH=<clone>/src`` so that the clone's
   package is the one imported, and reads its console output (stdout and stderr, merged, as a terminal shows
   them; ``COLUMNS=120``) line by line with the time each line arrived.
3. Per-node seconds: the project's own ``conf/logging.yml`` is used unchanged for the console, plus one extra
   file handler (a copy of the config passed through ``KEDRO_LOGGING_CONFIG``) that records Kedro's
   ``Running node: ...`` and ``Completed n out of m tasks`` lines with millisecond timestamps. A node's time is
   from its ``Running node`` line to the next ``Completed`` line (the default runner runs one node at a time).
4. Writes the machine (CPU model, cores usable), the load average before and after (the machine may be shared:
   the figures are only as quiet as the machine was), the command, the total, the console line counts (all,
   warning-looking, error-looking, TensorFlow CUDA probing, Kedro's '.' dataset-name UserWarning), the longest
   console silence and the per-node table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "first_run"

RUNNING = re.compile(r"Running node: (?P<name>[^:(]+?)(?::|\()")
NODE_SECONDS = re.compile(r"node (?P<name>\S+): (?P<seconds>[\d.]+) s")
COMPLETED = re.compile(r"Completed (?P<done>\d+) out of (?P<total>\d+) tasks")
# console line classes (a line may be in several)
PATTERNS = {
    "warning": re.compile(r"\bWARNING\b|Warning:"),
    "error": re.compile(r"\bERROR\b|\bCRITICAL\b|^E\d{4} |Traceback"),
    "tensorflow_cuda_probe": re.compile(r"cuInit|cuda_platform|cuda_dnn|cuda_blas|cuda_fft|Unable to register cu"),
    "tensorflow_cpp": re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d"),
    "retracing": re.compile(r"retracing", re.IGNORECASE),
    "dataset_name_dot_warning": re.compile(r"names? contains? '\.'"),
}


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or "unknown"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = None
    try:
        kib = int(
            next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1]
        )
        memory = round(kib / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    gpu = subprocess.run(
        ["sh", "-c", "command -v nvidia-smi >/dev/null && nvidia-smi -L"], capture_output=True, text=True
    )
    return {
        "cpu_model": model,
        "cores_usable": usable,
        "cpu_count": os.cpu_count(),
        "memory_gib": memory,
        "gpu": gpu.stdout.strip() or "none",
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def timing_logging_config(project: Path, log_file: Path) -> Path:
    """The project's logging config plus one millisecond-stamped file handler on the root logger."""
    path = project / "conf" / "logging.yml"
    config = yaml.safe_load(path.read_text()) if path.exists() else {"version": 1, "disable_existing_loggers": False}
    config.setdefault("handlers", {})["first_run_timing"] = {
        "class": "logging.FileHandler",
        "filename": str(log_file),
        "level": "INFO",
        "formatter": "first_run_timing",
        "encoding": "utf-8",
    }
    config.setdefault("formatters", {})["first_run_timing"] = {
        "format": "%(created).3f|%(name)s|%(levelname)s|%(message)s"
    }
    root = config.setdefault("root", {})
    root.setdefault("handlers", [])
    root["handlers"] = [*root["handlers"], "first_run_timing"]
    for logger in (config.get("loggers") or {}).values():
        if logger and logger.get("propagate") is False:
            logger["handlers"] = [*logger.get("handlers", []), "first_run_timing"]
    out = log_file.with_suffix(".yml")
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def _namespaced(name: str, message: str) -> str:
    """Kedro's ``Running node`` line names the node without its namespace: take it from the outputs' prefix."""
    outputs = message.rsplit(" -> ", 1)[-1].strip("[] ")
    prefixes = {o.rsplit(".", 1)[0] for o in outputs.split(";") if "." in o}
    return f"{prefixes.pop()}.{name}" if len(prefixes) == 1 else name


def node_times(log_file: Path) -> list[dict]:
    """Per-node seconds: the project's run_timing lines when the committed tree has them, else Kedro's lines."""
    text = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    timed = [line.split("|", 3) for line in text if "|promotion_cnn.run_timing|" in line]
    if timed:
        out = []
        for parts in timed:
            if match := NODE_SECONDS.match(parts[3]):
                out.append({"node": match["name"], "seconds": round(float(match["seconds"]), 2)})
        return out
    nodes, current = [], None
    for line in text:
        parts = line.split("|", 3)
        if len(parts) < 4:
            continue
        try:
            stamp = float(parts[0])
        except ValueError:
            continue
        message = parts[3]
        if (match := RUNNING.search(message)) and parts[1].startswith("kedro"):
            current = (_namespaced(match["name"].strip(), message), stamp)
        elif (match := COMPLETED.search(message)) and current is not None:
            nodes.append({"node": current[0], "seconds": round(stamp - current[1], 2)})
            current = None
    return nodes


def run(ref: str, command: list[str], keep: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="first_run_") as tmp:
        clone = Path(tmp) / "promotion_cnn"
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", ref], check=True)
        commit = subprocess.run(
            ["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        log_file = Path(tmp) / "timing.log"
        env = {
            **os.environ,
            "PYTHONPATH": str(clone / "src"),
            "KEDRO_DISABLE_TELEMETRY": "true",
            "MPLBACKEND": "Agg",
            "COLUMNS": "120",
            "KEDRO_LOGGING_CONFIG": str(timing_logging_config(clone, log_file)),
            "PYTHONUNBUFFERED": "1",
        }
        load_before = os.getloadavg()
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        lines: list[tuple[float, str]] = []
        process = subprocess.Popen(
            command, cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.monotonic() - start, line.rstrip("\n")))
        returncode = process.wait()
        total = time.monotonic() - start
        load_after = os.getloadavg()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime
        nodes = node_times(log_file) if log_file.exists() else []
        project_logs = (
            sorted(str(p.relative_to(clone)) for p in (clone / "logs").glob("*")) if (clone / "logs").exists() else []
        )
        if keep:
            kept = REPO / "benchmarks" / ".scratch" / "first_run_console.txt"
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text("\n".join(f"{t:8.1f}  {text}" for t, text in lines) + "\n")
            if log_file.exists():  # every log line with its time: where the seconds between nodes go
                kept.with_name("first_run_timing.log").write_text(log_file.read_text(encoding="utf-8"))
    gaps = [(b[0] - a[0], a[1]) for a, b in zip(lines, lines[1:])]
    gaps.append((total - lines[-1][0], lines[-1][1]) if lines else (total, ""))
    if lines:
        gaps.insert(0, (lines[0][0], "(start)"))
    longest = max(gaps, key=lambda g: g[0])
    counts = {"all": len(lines)}
    for key, pattern in PATTERNS.items():
        counts[key] = sum(1 for _, text in lines if pattern.search(text))
    flagged = {key: [text for _, text in lines if PATTERNS[key].search(text)][:20] for key in ("warning", "error")}
    return {
        "ref": ref,
        "commit": commit,
        "command": " ".join(command),
        "returncode": returncode,
        "total_seconds": round(total, 1),
        "cpu_seconds": round(cpu, 1),  # user + system of kedro run and the processes it waited for
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "console_lines": counts,
        "longest_silence_seconds": round(longest[0], 1),
        "longest_silence_after": longest[1][:160],
        "flagged_lines": flagged,
        "project_log_files": project_logs,
        "node_seconds_total": round(sum(n["seconds"] for n in nodes), 1),
        "nodes": nodes,
    }


def comparison(before: dict, after: dict) -> list[str]:
    """A before/after table (``--before`` an earlier run's JSON)."""
    rows = [
        ("commit", before["commit"][:10], after["commit"][:10]),
        ("total seconds", before["total_seconds"], after["total_seconds"]),
        ("seconds in nodes", before["node_seconds_total"], after["node_seconds_total"]),
        (
            "CPU seconds (user + system)",
            before.get("cpu_seconds", "not recorded"),
            after.get("cpu_seconds", "not recorded"),
        ),
        (
            "load average before / after (1 min)",
            f"{before['load_average_before'][0]} / {before['load_average_after'][0]}",
            f"{after['load_average_before'][0]} / {after['load_average_after'][0]}",
        ),
        ("console lines", before["console_lines"]["all"], after["console_lines"]["all"]),
        (
            "warning-looking / error-looking lines",
            f"{before['console_lines']['warning']} / {before['console_lines']['error']}",
            f"{after['console_lines']['warning']} / {after['console_lines']['error']}",
        ),
        (
            "TensorFlow CUDA probing lines",
            before["console_lines"]["tensorflow_cuda_probe"],
            after["console_lines"]["tensorflow_cuda_probe"],
        ),
        ("longest console silence (s)", before["longest_silence_seconds"], after["longest_silence_seconds"]),
    ]
    out = ["", "## Before and after", "", "| | before | after |", "|---|---:|---:|"]
    out += [f"| {name} | {b} | {a} |" for name, b, a in rows]
    out += ["", "Slowest nodes before:", "", "| node | seconds |", "|---|---:|"]
    out += [f"| {n['node']} | {n['seconds']:.1f} |" for n in sorted(before["nodes"], key=lambda n: -n["seconds"])[:10]]
    return out


def markdown(result: dict, machine_info: dict, note: str, before: dict | None = None) -> str:
    top = sorted(result["nodes"], key=lambda n: -n["seconds"])
    counts = result["console_lines"]
    out = [
        "# First `kedro run` in a fresh clone",
        "",
        f"Written by `python benchmarks/first_run.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        "",
        f"- commit: `{result['commit'][:10]}` (`{result['ref']}`), command: `{result['command']}`, exit code {result['returncode']}",
        f"- machine: {machine_info['cpu_model']}, {machine_info['cores_usable']} cores usable, "
        f"{machine_info['memory_gib']} GiB, GPU: {machine_info['gpu']}, Python {machine_info['python']}",
        f"- load average (1, 5, 15 min) before: {result['load_average_before']}, after: {result['load_average_after']}"
        " — the machine is shared, so the seconds are only as quiet as it was",
        f"- **total: {result['total_seconds']} s** (process start to exit, imports included); nodes: "
        f"{result['node_seconds_total']} s over {len(result['nodes'])} nodes; CPU (user + system): "
        f"{result.get('cpu_seconds', 'not recorded')} s, which depends far less on the machine's load than the wall time",
        f"- console: **{counts['all']} lines**; warning-looking {counts['warning']}, error-looking {counts['error']}, "
        f"TensorFlow CUDA probing {counts['tensorflow_cuda_probe']}, TensorFlow C++ log {counts['tensorflow_cpp']}, "
        f"retracing {counts['retracing']}, Kedro's '.'-in-dataset-name warning {counts['dataset_name_dot_warning']}",
        f"- longest console silence: {result['longest_silence_seconds']} s, after: `{result['longest_silence_after']}`",
        f"- project log files: {', '.join(result['project_log_files']) or 'none'}",
    ]
    if note:
        out += ["", note]
    if before:
        out += comparison(before, result)
        out += ["", "## Per node (this run)"]
    out += ["", "| node | seconds |", "|---|---:|"]
    out += [f"| {n['node']} | {n['seconds']:.1f} |" for n in top]
    for key in ("warning", "error"):
        if result["flagged_lines"][key]:
            out += ["", f"{key.capitalize()}-looking console lines (first 20):", "", "```"]
            out += [line[:200] for line in result["flagged_lines"][key]]
            out += ["```"]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--ref", default="HEAD", help="commit to clone and run (default HEAD: uncommitted changes are not run)"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="results path without suffix (.md and .json are written)"
    )
    parser.add_argument("--note", default="", help="a sentence for the markdown (e.g. what else the machine was doing)")
    parser.add_argument(
        "--keep-console", action="store_true", help="also write the console and the timed log to benchmarks/.scratch/"
    )
    parser.add_argument("--before", type=Path, help="an earlier run's JSON: adds a before/after table")
    parser.add_argument("--from-json", type=Path, help="rewrite the markdown of an earlier run's JSON, no run")
    parser.add_argument("kedro_args", nargs="*", help="extra arguments for `kedro run` (after --)")
    args = parser.parse_args()
    command = [str(Path(sys.executable).parent / "kedro"), "run", *args.kedro_args]
    if not Path(command[0]).exists():
        command[0] = "kedro"
    before = json.loads(args.before.read_text()) if args.before else None
    if args.from_json:
        result = json.loads(args.from_json.read_text())
        info = result["machine"]
    else:
        info = machine()
        result = run(args.ref, command, args.keep_console)
        result["command"] = " ".join(["kedro", *command[1:]])
        result["machine"] = info
        result["note"] = args.note
    if before:
        result["before"] = {k: v for k, v in before.items() if k != "before"}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.output.with_suffix(".md").write_text(markdown(result, info, args.note or result.get("note", ""), before))
    print(args.output.with_suffix(".md").read_text())
    return result["returncode"]


if __name__ == "__main__":
    sys.exit(main())
