"""The exporter's HTTP side, in process on a free loopback port: answers, errors, bad input."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dr_lib.errors import EnvironmentProblem, UsageError
from dr_lib.metrics.collect import MetricsSettings, gather
from dr_lib.metrics.exporter import MetricsApp, bind, parse_listen

SETTINGS = MetricsSettings(prefix="k3s_dr_", state_file=Path("/nonexistent/state.json"),
                           textfile=Path("/nonexistent/k3s_dr.prom"), listen="127.0.0.1:0",
                           backup_dir=Path("/nonexistent/backups"), latest_link="latest-backup.tar.gz",
                           backup_timer="k3s-dr-backup.timer", auto_restore_unit="k3s-auto-restore.service",
                           rto_target_seconds=900.0, rpo_target_seconds=3600.0)


@contextmanager
def running(settings, app=None):
    server = bind(settings, "127.0.0.1:0", app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def scrape(base):
    status, text = get(base + "/metrics")
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


@pytest.mark.parametrize(("text", "expected"), [
    (":9101", ("0.0.0.0", 9101)),
    ("0.0.0.0:9101", ("0.0.0.0", 9101)),
    ("127.0.0.1:0", ("127.0.0.1", 0)),
    ("localhost:9200", ("localhost", 9200)),
    ("[::1]:9101", ("::1", 9101)),
])
def test_parse_listen(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9101", "host:", "host:99999", "a:b:9101", "[::1]", ""])
def test_parse_listen_refuses(text):
    with pytest.raises(UsageError, match="HOST:PORT"):
        parse_listen(text)


def test_serves_metrics_and_health_computed_per_scrape(tmp_path):
    clock = iter([1000.0, 2000.0])
    app = MetricsApp(replace(SETTINGS, backup_dir=tmp_path), clock=lambda: next(clock), monotonic=lambda: 1.0)
    with running(SETTINGS, app) as base:
        first = scrape(base)
        second = scrape(base)
        assert get(base + "/healthz") == (200, "ok\n")
        with pytest.raises(urllib.error.HTTPError) as missing:
            get(base + "/other")
        assert missing.value.code == 404
    assert first[("k3s_dr_metrics_collected_timestamp_seconds", ())] == 1000.0
    assert second[("k3s_dr_metrics_collected_timestamp_seconds", ())] == 2000.0
    assert first[("k3s_dr_backup_count", ())] == 0
    assert first[("k3s_dr_collection_error", (("source", "backup_dir"),))] == 0


def test_bad_sources_become_metrics_and_the_exporter_keeps_serving(tmp_path):
    (tmp_path / "state.json").write_text("{broken")
    settings = replace(SETTINGS, backup_dir=tmp_path / "missing", state_file=tmp_path / "state.json")
    with running(settings) as base:
        for _ in range(3):
            got = scrape(base)
            assert got[("k3s_dr_collection_error", (("source", "backup_dir"),))] == 1
            assert got[("k3s_dr_collection_error", (("source", "state"),))] == 1
            assert ("k3s_dr_backup_count", ()) not in got


def test_an_unexpected_failure_is_a_500_for_that_scrape_only(tmp_path, caplog):
    settings = replace(SETTINGS, backup_dir=tmp_path)
    # An unexpected error may quote what it was reading: here a token from a file, as a parser would.
    calls = iter([ValueError("unexpected line 'token: eyJhbGciOiJSUzI1NiIsInNlY3JldC10b2tlbiJ9'"), None])

    def flaky():
        problem = next(calls)
        if problem is not None:
            raise problem
        return gather(settings, 1.0, 1.0, with_systemd=False)

    app = MetricsApp(settings, inputs=flaky)
    with running(SETTINGS, app) as base:
        with pytest.raises(urllib.error.HTTPError) as failed:
            get(base + "/metrics")
        assert failed.value.code == 500
        page = failed.value.read().decode()
        assert page == "k3s-dr exporter: collection failed (an internal error; the exporter's log says where)\n"
        assert scrape(base)[("k3s_dr_backup_count", ())] == 0
    logged = [r for r in caplog.records if r.name == "dr_lib.metrics.exporter"]
    assert len(logged) == 1 and logged[0].exc_info is None  # a traceback would print the error's text
    line = logged[0].getMessage()
    assert line.startswith("scrape failed: ValueError at test_metrics_exporter_http.py:") and "flaky" in line
    assert "eyJ" not in line and "token" not in line


def test_a_taken_port_is_a_clear_environment_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EnvironmentProblem, match=f"cannot listen on 127.0.0.1:{port}: the address is already "
                                                     "in use") as error:
            bind(SETTINGS, f"127.0.0.1:{port}")
        assert error.value.exit_code == 7
