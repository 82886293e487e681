"""Each caller of the process door keeps its own messages and outcomes.

The programs are FAKES (shell scripts on a private PATH) standing in for systemctl, git, zfs and
chromium: only how each caller runs them and what it makes of their exit is under test here.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dr_lib.drill import browser, identity
from dr_lib.errors import DeadlineExceeded, EnvironmentProblem, ExitCode, ToolMissing, VolumeError
from dr_lib.hooks.zfs import Runner, ZfsBackend
from dr_lib.host import systemd as host_systemd
from dr_lib.host.fix import local_runner
from dr_lib.metrics import systemd as metrics_systemd
from dr_lib.restore.datastore import SystemdK3s


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory that is the whole PATH: no real program can answer."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    return directory


def fake(directory: Path, name: str, body: str) -> Path:
    script = directory / name
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def test_systemctl_missing_says_the_host_runs_no_systemd(fake_bin: Path) -> None:
    with pytest.raises(ToolMissing, match="systemctl is not installed: this host does not run systemd"):
        host_systemd.systemctl("daemon-reload")


@pytest.mark.parametrize(("body", "said"), [
    ("echo 'Unit x.service not found.' >&2; exit 5", "Unit x.service not found."),
    ("echo 'only on stdout'; exit 1", "only on stdout"),  # stderr empty: stdout says why
])
def test_systemctl_failing_quotes_what_it_said(fake_bin: Path, body: str, said: str) -> None:
    fake(fake_bin, "systemctl", body)
    with pytest.raises(EnvironmentProblem) as caught:
        host_systemd.systemctl("start", "x.service")
    assert str(caught.value).startswith("systemctl start x.service failed (exit ")
    assert str(caught.value).endswith(said)


def test_systemctl_answers_its_stdout(fake_bin: Path) -> None:
    fake(fake_bin, "systemctl", 'echo "ActiveState=active $*"')
    assert host_systemd.systemctl("show", "-p", "ActiveState") == "ActiveState=active show -p ActiveState\n"


def test_the_k3s_control_names_what_it_could_not_do(fake_bin: Path) -> None:
    control = SystemdK3s("k3s.service", Path("/var/lib/rancher/k3s"), timeout=1.0)
    with pytest.raises(ToolMissing, match=r"^cannot stop k3s.service: systemctl is not installed$"):
        control.stop()
    fake(fake_bin, "systemctl", "echo 'Job for k3s.service failed' >&2; exit 1")
    with pytest.raises(EnvironmentProblem, match=r"^cannot start k3s.service: systemctl start k3s.service exited 1: "
                                                 r"Job for k3s.service failed$"):
        control.start()
    fake(fake_bin, "systemctl", "exec /bin/sleep 60")
    with pytest.raises(DeadlineExceeded, match=r"^cannot stop k3s.service: systemctl stop k3s.service did not "
                                               r"finish in 1 s$") as caught:
        control.stop()
    assert caught.value.exit_code == ExitCode.TIMEOUT


def test_metrics_systemctl_runs_in_utc_and_a_missing_one_is_a_problem_not_a_crash(fake_bin: Path) -> None:
    assert metrics_systemd.run_command(["systemctl", "show"]) == (
        127, "ToolMissing: systemctl is not installed (no 'systemctl' on PATH)")
    fake(fake_bin, "systemctl", 'echo "TZ=$TZ LC_ALL=$LC_ALL"; echo ignored >&2')
    assert metrics_systemd.run_command(["systemctl", "show"]) == (0, "TZ=UTC LC_ALL=C\n")
    fake(fake_bin, "systemctl", "echo ignored; echo 'Failed to connect to bus' >&2; exit 1")
    assert metrics_systemd.run_command(["systemctl", "show"]) == (1, "Failed to connect to bus\n")


def test_without_git_the_commit_comes_from_ci_or_is_unknown(fake_bin: Path, tmp_path: Path) -> None:
    assert identity.git_commit(tmp_path, env={"GITHUB_SHA": "abc123"}) == "abc123"
    assert identity.git_commit(tmp_path, env={}) == "unknown"
    fake(fake_bin, "git", 'case "$1" in rev-parse) echo 0123abcd;; status) echo " M dr_lib/x.py";; esac')
    assert identity.git_commit(tmp_path, env={}) == "0123abcd+dirty"


def test_the_fix_runner_reads_the_host_through_shell_text() -> None:
    assert local_runner("echo out; echo err >&2; exit 3") == (3, "out\n", "err\n")


def test_the_zfs_runner_streams_and_reports_a_failure_as_a_volume_error(fake_bin: Path, tmp_path: Path) -> None:
    fake(fake_bin, "zfs", """case "$1" in
  send) i=0; while [ $i -lt 3000 ]; do echo "stream line $i"; i=$((i+1)); done;;
  receive) exec /bin/cat > "$RECEIVED";;
  list) for last; do :; done; echo "cannot open '$last': dataset does not exist" >&2; exit 1;;
esac
""")
    received = tmp_path / "received"
    chunks: list[bytes] = []
    run = Runner()
    assert run(["zfs", "send", "-c", "tank/v@s"], stdout=chunks.append) == b""
    assert b"".join(chunks).count(b"\n") == 3000 and b"stream line 2999\n" in b"".join(chunks)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECEIVED", str(received))
        run(["zfs", "receive", "-u", "-F", "tank/v-k3s-dr-restoring"], stdin=io.BytesIO(b"STREAM" * 100000))
    assert received.read_bytes() == b"STREAM" * 100000
    with pytest.raises(VolumeError, match=r"^`zfs list -H` failed \(exit 1\): cannot open 'tank/v': dataset does"):
        run(["zfs", "list", "-H", "-p", "-o", "name", "tank/v"])
    assert ZfsBackend(run=run).exists("tank/v") is False


def test_chromium_failing_names_the_page_and_its_last_lines(fake_bin: Path, tmp_path: Path) -> None:
    chromium = fake(fake_bin, "chromium", "echo one >&2; echo two >&2; echo three >&2; echo four >&2; exit 3")
    page = tmp_path / "report.html"
    page.write_text("<html></html>")
    with pytest.raises(EnvironmentProblem) as caught:
        browser.dump_dom(page, binary=str(chromium))
    assert str(caught.value) == f"chromium failed on {str(page)!r} (exit 3): two | three | four"
