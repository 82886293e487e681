"""Where the host's own services answer, from its configuration (pure)."""

from __future__ import annotations


def exporter_url(listen: str) -> str:
    """Where ``metrics.listen`` (``HOST:PORT``, ``:PORT``, ``[V6]:PORT``) is reached from the host itself."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0"):  # noqa: S104 - a wildcard bind is reached on loopback
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/metrics"
