"""Local helper processes (kedro-viz, Chromium, the scoring service, an MLflow UI): a free loopback port, and a
process group that is started and always ended whole. Shared by the scripts, the benchmarks and the tests."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

PORTS = range(1024, 49152)  # kedro-viz refuses ports above 49151; the other servers accept these too


def free_port(exclude: tuple[int, ...] = ()) -> int:
    """A port in 1024-49151 that is free on 127.0.0.1 now (tried at random, so parallel runs rarely collide)."""
    for port in random.sample(PORTS, 200):
        if port in exclude:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port in 1024-49151 on 127.0.0.1")


def start(command: list[str], **kwargs) -> subprocess.Popen:
    """Start a process in its own process group, so that stop() ends it with every child it started."""
    return subprocess.Popen(command, start_new_session=True, **kwargs)


def stop(process: subprocess.Popen | None) -> None:
    """End a process group started by start(): SIGTERM, then SIGKILL if any member is left after 10 s."""
    if process is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)  # the group outlives its leader while children are left: signal the group
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            process.poll()  # reap the leader: a zombie still counts as a member
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def processes_with_env(marker: str) -> dict[int, str]:
    """Processes whose environment holds ``marker`` (``NAME=value``): whatever a test started, at any depth, even
    after it left the process group. pid -> command line (shortened)."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "environ").read_bytes().split(b"\0"):
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        except OSError:
            continue
    return found
