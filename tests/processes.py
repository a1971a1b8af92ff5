"""Real `liveness` subprocesses for tests and benches: start, SIGKILL, restart, stop; and
waiting on a condition with a deadline (showing the processes' logs when it passes)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float, logs: Path) -> float:
    """Poll ``condition`` until it holds; returns the seconds it took, fails at the deadline."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            tails = "".join(
                f"\n--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
                for log in sorted(logs.glob("*.log"))
            )
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}{tails}")
        time.sleep(0.1)
    return time.monotonic() - started


class Processes:
    """Named `liveness` subprocesses that can be killed and restarted; all stopped at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.commands: dict[str, list[str]] = {}
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        self.commands[name] = [sys.executable, "-m", "app.cli", *args]
        self._spawn(name)

    def _spawn(self, name: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as out:
            self.running[name] = subprocess.Popen(
                self.commands[name], env=self.env, cwd=self.logs, stdout=out, stderr=out
            )

    def kill(self, name: str) -> None:
        process = self.running[name]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def restart(self, name: str) -> None:
        self._spawn(name)

    def stop_all(self) -> dict[str, int | None]:
        """SIGTERM every process, then SIGKILL what has not stopped in 20 s; exit codes."""
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, process in self.running.items():
            try:
                codes[name] = process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
                codes[name] = None
        return codes
