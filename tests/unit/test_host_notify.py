"""sd_notify without libsystemd: the datagram ``k3s-dr exporter`` sends to systemd (``Type=notify``),
received here on a real Unix socket, as systemd receives it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from dr_lib.host.systemd import notify


def _receiver(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


def test_ready_reaches_a_path_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with _receiver(path) as receiver:
        assert notify("READY=1", "STATUS=serving http://0.0.0.0:9101/metrics", env={"NOTIFY_SOCKET": path})
        assert receiver.recv(4096) == b"READY=1\nSTATUS=serving http://0.0.0.0:9101/metrics"


def test_ready_reaches_an_abstract_socket() -> None:
    name = f"k3s-dr-test-notify-{os.getpid()}"
    with _receiver("\0" + name) as receiver:
        assert notify("READY=1", env={"NOTIFY_SOCKET": "@" + name})
        assert receiver.recv(4096) == b"READY=1"


@pytest.mark.parametrize("env", [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "relative/path"}])
def test_not_run_by_systemd_sends_nothing(env: dict[str, str]) -> None:
    assert notify("READY=1", env=env) is False


def test_nobody_listening_is_not_an_error(tmp_path: Path) -> None:
    assert notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "gone")}) is False
