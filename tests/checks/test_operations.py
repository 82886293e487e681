"""Configuration, logs (seed test 8), log rotation, metrics, waivers."""

import pytest

from dr_lib.checks import verdicts_exporter as exporter
from dr_lib.checks import verdicts_misc as v


@pytest.mark.control("DR-CONF-001")
def test_configuration_valid(judge):
    judge(v.config_valid)


@pytest.mark.control("DR-LOG-001")
def test_log_recent_success_no_errors(judge):
    judge(v.log_recent)


@pytest.mark.control("DR-LOG-002")
def test_log_rotation_configured(judge):
    judge(v.logrotate_configured)


@pytest.mark.control("DR-METRICS-001")
def test_metrics_fresh(judge):
    judge(v.metrics_fresh)


@pytest.mark.control("DR-METRICS-002")
def test_metrics_exporter_fresh(judge):
    judge(exporter.exporter_fresh)


@pytest.mark.control("DR-METRICS-003")
def test_metrics_exporter_service_running(judge):
    judge(exporter.exporter_service)


@pytest.mark.control("DR-WAIVER-001")
def test_waivers_valid(judge):
    judge(v.waivers_valid)
