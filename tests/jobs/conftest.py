"""A real queue for the job tests: Huey on an SQLite file in tmp_path, and workers in a thread or a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jobs import queue

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_queue(tmp_path):
    """The queue in tmp_path/queue.db (not immediate); immediate mode again afterwards."""
    path = tmp_path / "queue.db"
    queue.use_sqlite(str(path))
    yield path
    queue.huey.immediate = True  # back to the suite's default (tests.conftest: JOBS_IMMEDIATE)


class ThreadWorker:
    """huey's own consumer, its workers as threads of this process (no signal handlers)."""

    def __init__(self, workers: int = 1) -> None:
        self.consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                                   check_worker_health=False, initial_delay=0.05, max_delay=0.2)
        self.consumer._set_signal_handlers = lambda: None

    def __enter__(self) -> "ThreadWorker":
        self.consumer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.consumer.stop(graceful=True)


class ProcessWorker:
    """`huey_consumer worker.huey` as its own process, as `make run` starts it."""

    def __init__(self, database: str, queue_path: Path, jobs_dir: Path, log: Path) -> None:
        env = {**os.environ, "DATABASE_URL": database, "JOBS_QUEUE_URL": str(queue_path), "JOBS_DIR": str(jobs_dir),
               "SECRET_KEY": "test-secret-key-not-for-production", "PYTHONPATH": str(ROOT)}
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "huey.bin.huey_consumer", "worker.huey", "--workers", "1", "--delay", "0.05",
             "--max-delay", "0.2", "--no-periodic"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no clean-up, no chance to finish or mark anything."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def wait_for(predicate, timeout: float = 120, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s")


__all__ = ["ProcessWorker", "ThreadWorker", "threading", "wait_for"]
