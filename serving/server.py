"""Start, probe and stop the service as a child process (``bentoml serve``) on the loopback interface.

Used by ``crm serve``, the demo, the benchmark and the server tests, so they all run the service the
same way: its own process group (stopped as a group, by its id), BLAS limited to one thread, and the
``CRM_*`` settings passed through the environment.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from serving.metrics import instance_home

SERVICE = "serving.service:CRMService"
LOOPBACK = "127.0.0.1"
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A running service: its process and its base URL."""

    process: subprocess.Popen
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid


def server_command(host: str, port: int, workers: int = 1) -> list[str]:
    bentoml = Path(sys.executable).with_name("bentoml")
    return [str(bentoml), "serve", SERVICE, "--host", host, "--port", str(port), "--arg", f"workers={workers}"]


def server_environment(bentoml_home: Path | None = None, settings: Mapping[str, str] | None = None, *,
                       port: int) -> dict[str, str]:
    """The service's environment: BLAS single-threaded, the settings, and a BentoML home of its own
    for the instance on ``port`` sharing ``bentoml_home``'s model store (its metrics stay its own)."""
    environment = {**os.environ, **SINGLE_THREADED, **(settings or {})}
    environment["BENTOML_HOME"] = str(instance_home(port, bentoml_home))
    return environment


def start(port: int, host: str = LOOPBACK, bentoml_home: Path | None = None,
          settings: Mapping[str, str] | None = None, log: Path | None = None, workers: int = 1) -> Server:
    """Start the service in its own process group; output goes to ``log`` (default: discarded)."""
    output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        server_command(host, port, workers),
        env=server_environment(bentoml_home, settings, port=port),
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server(process, f"http://{LOOPBACK if host in ('0.0.0.0', '::') else host}:{port}")


def wait_ready(server: Server, timeout: float = 120.0) -> None:
    """Wait until ``/readyz`` answers 200; raise with the reason if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the service exited with code {server.process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{server.url}/readyz", timeout=2.0):
                return
        except urllib.error.HTTPError as error:
            last = f"/readyz answered {error.code}"
        except OSError as error:
            last = type(error).__name__
        time.sleep(0.25)
    raise TimeoutError(f"the service was not ready within {timeout:.0f} s ({last})")


def stop(server: Server, timeout: float = 20.0) -> int:
    """Stop the service's process group (SIGTERM, then SIGKILL after ``timeout``); return its exit code."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout)
    return server.process.returncode


@contextmanager
def running(port: int | None = None, bentoml_home: Path | None = None, settings: Mapping[str, str] | None = None,
            log: Path | None = None, timeout: float = 120.0, workers: int = 1) -> Iterator[Server]:
    """A ready service on a free (or the given) loopback port, stopped on exit whatever happens."""
    server = start(port or free_port(), LOOPBACK, bentoml_home, settings, log, workers)
    try:
        wait_ready(server, timeout)
        yield server
    finally:
        stop(server)
