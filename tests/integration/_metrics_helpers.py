"""Shared by the metrics integration tests: a private config, the real CLI, a running exporter."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.restore_cli import Run

K3S_DR = [sys.executable, "-m", "dr_lib"]
_BOUND = re.compile(r"\(bound ([^ ;]+):(\d+);")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True)
class Layout:
    root: Path
    config: Path
    backups: Path
    state_dir: Path
    textfile: Path


def make_layout(root: Path, *, extra: str = "") -> Layout:
    """Every path k3s-dr writes, inside ``root``; world-readable so the exporter may run unprivileged."""
    root.mkdir(parents=True, exist_ok=True)
    backups, state_dir, textfile_dir = root / "backups", root / "state", root / "textfile"
    textfile_dir.mkdir(exist_ok=True)
    config = root / "config.yaml"
    config.write_text(
        f"backup:\n  dir: {backups}\n  lock_file: {root / 'k3s-dr.lock'}\n  log_file: {root / 'k3s-dr.log'}\n"
        f"  k3s_data_dir: {root / 'no-k3s-here'}\n"
        f"restore:\n  state_dir: {state_dir}\n  wait_timeout: 90s\n"
        f"metrics:\n  textfile: {textfile_dir / 'k3s_dr.prom'}\n  listen: 127.0.0.1:0\n{extra}", encoding="utf-8")
    return Layout(root, config, backups, state_dir, textfile_dir / "k3s_dr.prom")


def cli(layout: Layout, *args: str | Path, timeout: float = 300.0) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("K3S_DR_")}
    done = subprocess.run([*K3S_DR, "--config", str(layout.config), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)
    return Run(done.returncode, done.stdout, done.stderr)


def parse(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


class Exporter:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.stopped = False

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, as systemd stops it; a test that stops it on purpose says so here."""
        self.stopped = True
        self.process.terminate()
        self.process.wait(timeout=timeout)

    def scrape(self) -> Samples:
        with urllib.request.urlopen(self.url, timeout=10) as response:
            assert response.status == 200
            return parse(response.read().decode("utf-8"))


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds: a test's own process, never left running."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def exporter(layout: Layout, *, listen: str = "127.0.0.1:0", prefix_argv: Sequence[str] = (),
             timeout: float = 30.0) -> Iterator[Exporter]:
    """``k3s-dr exporter`` as a process; yields once it printed the address it is bound to."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("K3S_DR_")}
    process = subprocess.Popen([*prefix_argv, *K3S_DR, "--config", str(layout.config), "exporter", "--listen", listen],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + timeout
        seen = ""
        while time.monotonic() < deadline and process.poll() is None:
            ready, _, _ = select.select([process.stderr], [], [], 0.5)
            if ready:
                seen += process.stderr.readline()
                match = _BOUND.search(seen)
                if match:
                    running = Exporter(process, f"http://{match.group(1)}:{match.group(2)}/metrics")
                    yield running
                    assert running.stopped or process.poll() is None, f"the exporter died (exit {process.returncode})"
                    return
        raise AssertionError(f"the exporter did not start (exit {process.poll()}): {seen[-2000:]}")
    finally:
        stop_process(process)
        if process.stderr is not None:
            process.stderr.close()
