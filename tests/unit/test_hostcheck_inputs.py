"""What ``k3s-dr check`` takes from outside before anything runs: the ``--hosts`` specs (each
reaches ssh, docker or kubectl through testinfra) and the report directory's name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dr_lib.errors import EnvironmentProblem, UsageError
from dr_lib.hostcheck.hosts import is_local, parse_hosts
from dr_lib.hostcheck.reports import checks_dir_name, create_checks_dir

STARTED = datetime(2026, 12, 4, 18, 5, 9, tzinfo=UTC)

ACCEPTED = [
    "docker://k3sdr-suite-1",
    "ssh://root@node2.example.com:2222",
    "ssh://[fd00::2]",
    "ansible://all?ansible_inventory=/etc/ansible/hosts",
    "kubectl://k3s-server-0?namespace=kube-system&container=k3s",
    "local://",
    "node2",
]
# Each would hurt if it reached a command line: an option where a host belongs, a shell
# metacharacter, a control character, a backend testinfra does not have, nothing at all.
REFUSED = [
    "ssh://-oProxyCommand=touch /tmp/pwned",
    "ssh://-oProxyCommand=touch%20/tmp/pwned",
    "ssh://root@-oProxyCommand=id",
    "docker://-v",
    "-oProxyCommand=id",
    "kubectl://pod?namespace=-n",
    "docker://a;touch /tmp/pwned",
    "docker://$(id)",
    "docker://a`id`",
    "docker://a b",
    "docker://a\nb",
    "docker://a'b",
    "ftp://host",
    "DOCKER://host",
    "",
    "docker://",
    "docker://" + "a" * 600,
]


@pytest.mark.parametrize("spec", ACCEPTED)
def test_host_specs_testinfra_knows_are_accepted(spec: str) -> None:
    assert parse_hosts(spec) == (spec,)


@pytest.mark.parametrize("spec", REFUSED, ids=[repr(s)[:40] for s in REFUSED])
def test_hostile_host_specs_are_refused_naming_the_value(spec: str) -> None:
    with pytest.raises(UsageError, match="--hosts value") as caught:
        parse_hosts(f"docker://fine,{spec}")
    assert "accepted are" in str(caught.value) and "\n" not in str(caught.value)


def test_a_list_is_split_on_commas_and_bounded() -> None:
    assert parse_hosts("docker://a, docker://b") == ("docker://a", "docker://b")
    with pytest.raises(UsageError, match="at most 256"):
        parse_hosts(",".join(f"docker://h{i}" for i in range(300)))
    assert is_local("local://") and not is_local("docker://local")


def test_report_directory_is_named_for_the_utc_start() -> None:
    assert checks_dir_name(STARTED) == "checks-20261204T180509Z"
    assert checks_dir_name(STARTED.astimezone(timezone(timedelta(hours=2)))) == "checks-20261204T180509Z"


def test_a_report_directory_is_never_reused(tmp_path: Path) -> None:
    first = create_checks_dir(tmp_path, STARTED)
    (first / "checks.json").write_text("{}")
    (tmp_path / "checks-20261204T180509Z-1").symlink_to("/etc")  # planted: taken as used, never followed
    second = create_checks_dir(tmp_path, STARTED)
    assert (first.name, second.name) == ("checks-20261204T180509Z", "checks-20261204T180509Z-2")
    assert (first / "checks.json").read_text() == "{}" and not any(second.iterdir())


def test_an_unwritable_reports_root_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(EnvironmentProblem, match="cannot create the report directory") as caught:
        create_checks_dir(blocker / "reports", STARTED)
    assert "--reports DIR" in str(caught.value)
