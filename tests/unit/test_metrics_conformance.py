"""DR-METRICS-002 (the exporter answers with fresh values): the verdict on synthetic answers, and
the whole path for real — the probe fetching a running exporter, the verdict judging its answer.
Its service (DR-METRICS-003) is judged in test_checks_verdicts.py and on the reference host."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from dr_lib import __version__
from dr_lib.checks.endpoints import exporter_url
from dr_lib.checks.evaluate import evaluate_all
from dr_lib.checks.hostfacts import Layout, file_facts_from_probe
from dr_lib.checks.model import Outcome
from dr_lib.checks.probe import collect
from dr_lib.checks.verdicts.exporter import exporter_fresh
from dr_lib.config import load_config
from dr_lib.metrics.collect import MetricsSettings
from dr_lib.metrics.exporter import bind
from tests.unit._host_facts import EXPORTER_BODY as GOOD
from tests.unit._host_facts import NOW, healthy, with_file_content, with_files


def host(mode: str = "auto", body: str | None = GOOD, status: int | None = 200, error: str | None = None,
         service: bool = True):
    """``service``: units.exporter (k3s-dr runs the exporter as its unit, running on the healthy host)."""
    facts = healthy()
    config = dataclasses.replace(facts.layout.config,
                                 checks=dataclasses.replace(facts.layout.config.checks, metrics=mode),
                                 units=dataclasses.replace(facts.layout.config.units, exporter=service))
    facts = dataclasses.replace(facts, layout=Layout(config, facts.layout.config_path))
    return with_files(facts, scrape={"status": status, "body": body, "error": error})


@pytest.mark.parametrize(("listen", "url"), [
    ("0.0.0.0:9101", "http://127.0.0.1:9101/metrics"),
    (":9101", "http://127.0.0.1:9101/metrics"),
    ("10.0.0.5:9200", "http://10.0.0.5:9200/metrics"),
    ("[::]:9101", "http://[::1]:9101/metrics"),
    ("[fd00::5]:9101", "http://[fd00::5]:9101/metrics"),
])
def test_exporter_url(listen, url):
    assert exporter_url(listen) == url


@pytest.mark.parametrize(("facts", "outcome", "words"), [
    (host(), Outcome.PASS, "the last good backup is 9m old"),
    (host(mode="off"), Outcome.NOT_APPLICABLE, "off"),
    (host(status=None, body=None, error="ConnectionRefusedError: [Errno 111]"), Outcome.FAIL,
     "k3s-dr-exporter.service is running but nothing answers"),
    (host(status=None, body=None, error="ConnectionRefusedError: [Errno 111]", service=False),
     Outcome.NOT_APPLICABLE, "no exporter answers"),
    (host(mode="required", status=None, body=None, error="ConnectionRefusedError: [Errno 111]", service=False),
     Outcome.FAIL, "does not answer"),
    (host(body=GOOD.replace(str(NOW - 1), str(NOW - 3600)), service=False), Outcome.FAIL, "stale"),
    (host(status=500, body=""), Outcome.FAIL, "HTTP 500"),
    (host(body="node_load1 0.5\n"), Outcome.FAIL, "not k3s-dr's exporter"),
    (host(body=GOOD.replace(str(NOW - 1), str(NOW - 3600))), Outcome.FAIL, "stale"),
    (host(body=GOOD.replace('"backup_dir"} 0.0', '"backup_dir"} 1.0')), Outcome.FAIL, "cannot read its backup_dir"),
    (host(body=GOOD.replace(str(NOW - 600), "0.0")), Outcome.FAIL, "reads another directory"),
    (host(body=GOOD.replace(f'version="{__version__}"', 'version="0.0.1"')), Outcome.FAIL, "runs k3s-dr 0.0.1"),
    (host(body=GOOD.replace(f'k3s_dr_build_info{{version="{__version__}"}} 1.0\n', "")), Outcome.FAIL,
     "older than 0.1"),
])
def test_verdicts(facts, outcome, words):
    finding = exporter_fresh(facts)
    assert finding.outcome is outcome
    assert words in f"{finding.problem} {finding.evidence}"


def test_only_this_control_fails_for_a_broken_exporter():
    broken = host(mode="required", status=None, body=None, error="timed out")
    fresh_textfile = f"k3s_dr_backup_last_success_timestamp_seconds {NOW - 600}\n"
    broken = with_file_content(broken, broken.layout.config.metrics.textfile, fresh_textfile)
    assert {cid for cid, f in evaluate_all(broken).items() if f.outcome is Outcome.FAIL} == {"DR-METRICS-002"}


def test_the_probe_fetches_a_real_exporter_and_the_control_passes(tmp_path: Path):
    config = load_config(None, env={"K3S_DR_BACKUP_DIR": str(tmp_path / "backups"),
                                    "K3S_DR_RESTORE_STATE_DIR": str(tmp_path / "state"),
                                    "K3S_DR_METRICS_LISTEN": "127.0.0.1:0"})
    (tmp_path / "backups").mkdir()
    server = bind(MetricsSettings.from_config(config), "127.0.0.1:0")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        config = dataclasses.replace(config, metrics=dataclasses.replace(config.metrics, listen=f"127.0.0.1:{port}"))
        layout = Layout(config, "/etc/k3s-dr/config.yaml")
        files = file_facts_from_probe(collect(layout.probe_request()))
        facts = dataclasses.replace(healthy(), layout=layout, files=files)
        finding = exporter_fresh(facts)
        assert finding.outcome is Outcome.PASS, finding
        assert f"GET http://127.0.0.1:{port}/metrics" in finding.evidence
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    files = file_facts_from_probe(collect(layout.probe_request()))  # nothing listens any more
    assert files.scrape is not None and files.scrape["status"] is None
    assert "Connection refused" in files.scrape["error"] or "Errno 111" in files.scrape["error"]
