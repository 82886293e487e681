"""Bad input fails fast with one clear line naming the problem, never a hang or a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dr_lib.errors import ClusterError, EnvironmentProblem, ExitCode, UsageError
from k3s_dr_testbed.clusters import ClusterSpec, start_cluster
from k3s_dr_testbed.clusters.binaries import locate_binaries
from k3s_dr_testbed.clusters.build import build_binaries
from k3s_dr_testbed.clusters.k3d import start_k3d

REPO = Path(__file__).resolve().parents[2]


def k3s_dr(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dr_lib", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=REPO, check=False)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The whole of stderr is one line, the error: no progress, no traceback, no second thought."""
    assert result.stderr.startswith("k3s-dr: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == "", result.stdout
    return result.stderr


def test_invalid_name_is_refused(tmp_path: Path) -> None:
    result = k3s_dr("cluster", "up", "--name", "Bad_Name", env={"K3S_DR_HOME": str(tmp_path)})
    assert result.returncode == ExitCode.USAGE
    assert "'Bad_Name' is not valid" in one_error_line(result)


def test_missing_binaries_say_to_run_the_build(tmp_path: Path) -> None:
    result = k3s_dr("cluster", "up", "--name", "nobin",
                    env={"K3S_DR_HOME": str(tmp_path / "home"), "K3S_DR_CACHE": str(tmp_path / "empty-cache")})
    assert result.returncode == ExitCode.ENVIRONMENT
    message = one_error_line(result)
    assert "kube-control-plane, kine, kwok" in message and "k3s-dr cluster build" in message
    assert not (tmp_path / "home" / "clusters" / "nobin").exists()


def test_taken_api_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = k3s_dr("cluster", "up", "--name", "porty", "--port", str(port), env={"K3S_DR_HOME": str(tmp_path)})
    assert result.returncode == ExitCode.ENVIRONMENT
    assert f"port 127.0.0.1:{port} for the API server is taken" in one_error_line(result)


def test_a_running_name_is_refused(cluster: Any) -> None:
    env = {"K3S_DR_HOME": str(cluster.dir.parent.parent)}
    result = k3s_dr("cluster", "up", "--name", cluster.name, env=env)
    assert result.returncode == ExitCode.USAGE
    assert f"cluster {cluster.name!r} is already running" in one_error_line(result)


def test_corrupt_sqlite_datastore_is_named_before_kine_starts(cluster_factory: Any) -> None:
    handle = cluster_factory(nodes=0)
    handle.stop_control_plane()
    for leftover in handle.db_path.parent.glob("state.db-*"):  # WAL and shared-memory files
        leftover.unlink()
    handle.db_path.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(EnvironmentProblem) as failure:
        handle.start_control_plane(timeout_seconds=30)
    assert str(handle.db_path) in str(failure.value)
    assert not any(p.name == "kine" for p in handle.state.processes)


def test_cli_resume_on_a_corrupt_datastore_fails_and_keeps_the_directory(tmp_path: Path) -> None:
    env = {"K3S_DR_HOME": str(tmp_path)}
    directory = tmp_path / "clusters" / "resumed"
    assert k3s_dr("cluster", "up", "--name", "resumed", "--nodes", "0", "--json", env=env).returncode == 0
    try:
        assert k3s_dr("cluster", "down", "--name", "resumed", "--keep-dir", env=env).returncode == 0
        db = directory / "server" / "db" / "state.db"
        for leftover in db.parent.glob("state.db-*"):
            leftover.unlink()
        db.write_bytes(b"garbage" * 1000)
        result = k3s_dr("cluster", "up", "--name", "resumed", env=env)
        assert result.returncode == ExitCode.ENVIRONMENT
        assert f"SQLite datastore {db} is unusable: file is not a database" in one_error_line(result)
        listing = k3s_dr("cluster", "list", "--json", env=env)
        assert '"swept": []' in listing.stdout and '"status": "stopped"' in listing.stdout
        assert db.read_bytes().startswith(b"garbage")  # the user's file is left as it was
    finally:
        k3s_dr("cluster", "down", "--name", "resumed", env=env)
    assert not directory.exists()


def test_a_component_that_dies_during_start_fails_at_once_with_its_log(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real = locate_binaries()
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("kube-control-plane", "kwok"):
        (fake / name).symlink_to(real / name)
    (fake / "kine").write_text("#!/bin/sh\necho 'kine: cannot open the datastore (a planted failure)'\nexit 3\n")
    (fake / "kine").chmod(0o755)
    monkeypatch.setenv("K3S_DR_BIN_DIR", str(fake))
    monkeypatch.setenv("K3S_DR_HOME", str(tmp_path / "home"))
    with pytest.raises(ClusterError) as failure:
        start_cluster(ClusterSpec("dies", nodes=1, owned_by_process=True, timeout_seconds=60))
    message = str(failure.value)
    assert "kine exited with status 3" in message and "a planted failure" in message
    assert "\n" not in message  # the log's tail folded into the one line
    assert not (tmp_path / "home" / "clusters" / "dies").exists()


def test_nodes_out_of_range_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K3S_DR_HOME", str(tmp_path))
    with pytest.raises(UsageError, match="node count -1"):
        start_cluster(ClusterSpec("negative", nodes=-1))


def test_k3d_without_k3d_or_docker_names_the_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: neither k3d nor docker
    with pytest.raises(EnvironmentProblem, match="'k3d' command is not on PATH"):
        start_k3d(ClusterSpec("k3d-missing"))


def test_build_without_go_names_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("K3S_DR_CACHE", str(tmp_path / "cache"))
    with pytest.raises(EnvironmentProblem, match="Go toolchain"):
        build_binaries()
