"""A real Prometheus server for tests: Debian's ``/usr/bin/prometheus`` on loopback, a free port, a
temporary TSDB, scraping and evaluating every second; killed at teardown. Queries go through its
HTTP API; every wait polls and has a deadline."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.integration._metrics_helpers import stop_process

PROMETHEUS = "/usr/bin/prometheus"  # Debian's prometheus package (scripts/setup installs it for promtool)
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, poll: float = 0.5) -> T:
    """The first truthy answer of ``probe`` before the deadline; else an assertion naming ``what``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last answer: {last!r})")


class Prometheus:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.process, self.log = url, process, log

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] in ("vector", "scalar"), data
        return data["result"] if data["resultType"] == "vector" else [{"metric": {}, "value": data["result"]}]

    def firing(self, alertname: str) -> list[dict[str, Any]]:
        return [a for a in self.api("alerts")["alerts"]
                if a["labels"].get("alertname") == alertname and a["state"] == "firing"]


@contextmanager
def prometheus(directory: Path, *, job: str, targets: list[str], rules: str,
               timeout: float = 60.0) -> Iterator[Prometheus]:
    """Start Prometheus scraping ``targets`` as ``job`` with the rule file text ``rules``; yield once ready."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rules.yml").write_text(rules)
    config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
              "rule_files": [str(directory / "rules.yml")],
              "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}]}
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = directory / "prometheus.log"
    for _attempt in range(3):  # another process may take the free port before Prometheus binds it
        port = free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={directory / 'prometheus.yml'}",
                 f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                 "--log.level=warn"], stdout=out, stderr=subprocess.STDOUT)
        server = Prometheus(f"http://127.0.0.1:{port}", process, log)
        try:
            if _started(server, timeout):
                yield server
                return
        finally:
            stop_process(process, grace=15)
    raise AssertionError(f"Prometheus did not start: {log.read_text()[-2000:]}")


def _started(server: Prometheus, timeout: float) -> bool:
    """Ready (True), or exited before it was (False: the port was taken, say)."""
    wait_for("Prometheus ready or exited", lambda: server.process.poll() is not None or _ready(server), timeout)
    return server.process.poll() is None


def _ready(server: Prometheus) -> bool:
    try:
        with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
