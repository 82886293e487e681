"""The process door against real programs (sh, cat, sleep): results as values, errors in our hierarchy."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from dr_lib import proc
from dr_lib.errors import CommandFailed, DeadlineExceeded, EnvironmentProblem, ExitCode, ToolMissing

PY = sys.executable


def sh(script: str, *args: str) -> list[str]:
    return ["sh", "-c", script, "sh", *args]


def test_a_run_is_a_value_with_everything_it_did() -> None:
    result = proc.run(sh('echo out; echo err >&2; echo "$1"', "an argument"), timeout=30)
    assert result.argv == ("sh", "-c", 'echo out; echo err >&2; echo "$1"', "sh", "an argument")
    assert (result.returncode, result.stdout, result.stderr) == (0, "out\nan argument\n", "err\n")
    assert result.succeeded and result.seconds >= 0


def test_argv_is_never_a_shell_string(tmp_path: Path) -> None:
    hostile = f"$(touch {tmp_path}/pwned); `touch {tmp_path}/pwned2`"
    assert proc.run(["echo", hostile], timeout=30).stdout == hostile + "\n"
    assert list(tmp_path.iterdir()) == []


def test_a_non_zero_exit_is_command_failed_with_its_status_and_stderr_tail() -> None:
    noise = "x" * 5000
    with pytest.raises(CommandFailed) as caught:
        proc.run(sh(f'echo {noise} >&2; echo "the reason" >&2; exit 3'), timeout=30)
    error = caught.value
    assert error.returncode == 3 and error.stderr.endswith("the reason")
    assert len(error.stderr) == proc.MESSAGE_STDERR_CHARS  # truncated: a message, not a log
    assert "failed (exit 3)" in str(error) and str(error).endswith("the reason")
    assert isinstance(error, EnvironmentProblem) and error.exit_code == ExitCode.ENVIRONMENT


def test_check_false_returns_the_failed_result() -> None:
    result = proc.run(sh("echo why >&2; exit 4"), timeout=30, check=False)
    assert (result.returncode, result.succeeded, result.stderr_tail()) == (4, False, "why")


@pytest.mark.parametrize("program", ["k3s-dr-no-such-program", "/nonexistent/bin/zfs"])
def test_a_missing_program_is_tool_missing(program: str) -> None:
    with pytest.raises(ToolMissing) as caught:
        proc.run([program, "list"], timeout=30)
    assert f"{Path(program).name} is not installed" in str(caught.value)
    assert caught.value.exit_code == ExitCode.ENVIRONMENT


def test_a_missing_working_directory_is_not_a_missing_program(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        proc.run(["true"], timeout=30, cwd=tmp_path / "gone")
    assert not isinstance(caught.value, ToolMissing) and "gone" in str(caught.value)


def test_a_program_that_cannot_be_executed_is_an_environment_problem(tmp_path: Path) -> None:
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(EnvironmentProblem, match="cannot run not-executable"):
        proc.run([str(script)], timeout=30)


def running_with(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (zombies included: they were not reaped)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("streamed", [False, True])
def test_past_its_deadline_a_program_is_killed_and_named(streamed: bool) -> None:
    marker = f"k3s-dr-proc-test-{os.getpid()}-{streamed}"
    sink = bytearray()
    with pytest.raises(DeadlineExceeded) as caught:
        proc.run([PY, "-c", "import time; time.sleep(60)", marker], timeout=0.5,
                 stdout_to=sink.extend if streamed else None)
    assert f"`{PY} -c" in str(caught.value) and "within 0.5 s" in str(caught.value)
    assert caught.value.exit_code == ExitCode.TIMEOUT
    assert running_with(marker) == []  # killed and reaped, whether or not it had started yet


def test_env_adds_to_the_inherited_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K3S_DR_TEST_INHERITED", "kept")
    result = proc.run(sh('echo "$K3S_DR_TEST_INHERITED $TZ"'), timeout=30, env={"TZ": "UTC"})
    assert result.stdout == "kept UTC\n"


def test_env_without_inheritance_is_the_whole_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTIC_PASSWORD", "must-not-leak")
    result = proc.run(["/usr/bin/env"], timeout=30, env={"ONLY": "this"}, inherit_env=False)
    assert result.stdout == "ONLY=this\n"


def test_environment_values_never_reach_a_message() -> None:
    secret = "s3cr3t-access-key-value"
    with pytest.raises(CommandFailed) as caught:
        proc.run(sh("exit 1"), timeout=30, env={"AWS_SECRET_ACCESS_KEY": secret})
    assert secret not in str(caught.value) and secret not in repr(caught.value.args)


def test_stdin_is_empty_unless_given() -> None:
    assert proc.run(["cat"], timeout=30).stdout == ""
    assert proc.run(["cat"], timeout=30, stdin="text ✓").stdout == "text ✓"
    assert proc.run(["cat"], timeout=30, stdin=b"\x00bytes").stdout_bytes == b"\x00bytes"


def test_output_that_is_not_utf8_is_kept_as_bytes_and_shown_replaced() -> None:
    result = proc.run(["printf", "\\377ok"], timeout=30)
    assert result.stdout_bytes == b"\xffok" and result.stdout == "\ufffdok"


def test_a_large_stream_in_and_out_with_a_chatty_stderr_does_not_block() -> None:
    """Both pipes fill up (more than a pipe buffer each way, stderr too): nothing may deadlock."""
    data = os.urandom(3 * proc.CHUNK + 12345)
    copier = [PY, "-c", "import sys\nfor i, c in enumerate(iter(lambda: sys.stdin.buffer.read(65536), b'')):\n"
              "    sys.stdout.buffer.write(c); sys.stderr.write('x' * 1000 + '\\n')"]
    received = bytearray()
    result = proc.run(copier, timeout=120, stdin=io.BytesIO(data), stdout_to=received.extend)
    assert bytes(received) == data and result.stdout_bytes == b""  # streamed, not kept
    assert result.stderr.count("\n") == -(-len(data) // 65536)


def test_a_streamed_run_that_fails_is_command_failed() -> None:
    with pytest.raises(CommandFailed, match=r"exit 2\): no such dataset"):
        proc.run(sh("cat >/dev/null; echo 'no such dataset' >&2; exit 2"), timeout=30, stdin=io.BytesIO(b"x" * 10))


def test_a_program_that_stops_reading_stdin_early_is_judged_by_its_exit_status() -> None:
    result = proc.run(["head", "-c", "5"], timeout=60, stdin=io.BytesIO(b"y" * (4 * proc.CHUNK)))
    assert result.stdout == "yyyyy"


def test_a_failing_sink_stops_the_program_and_is_raised(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    def full_disk(_chunk: bytes) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        proc.run(sh(f"echo $$ > {pid_file}; exec yes"), timeout=60, stdout_to=full_disk)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_a_failing_stdin_source_is_raised() -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            raise OSError(5, "Input/output error")

    with pytest.raises(OSError, match="Input/output error"):
        proc.run(["cat"], timeout=60, stdin=Broken())  # type: ignore[arg-type]


def test_a_long_command_line_is_cut_short_in_messages() -> None:
    line = proc.command_line(["chromium", *(f"--flag-{i}" for i in range(100))])
    assert line.startswith("chromium --flag-0") and len(line) == proc.MESSAGE_ARGV_CHARS and line.endswith("…")
