"""``k3s-dr exporter``: an HTTP endpoint whose values are computed at each scrape.

Ages come from the backup directory and the clock at scrape time, not from the last write.
The server keeps serving whatever happens to its sources: an unreadable directory, a corrupt
archive or a broken state file become ``collection_error``/``backup_archives_unreadable``
values; an unexpected error answers 500 for that scrape (a page without the error's text, which
may quote what it was reading; the log names its type and where) and the next scrape tries again.
"""

from __future__ import annotations

import errno
import logging
import re
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from dr_lib.errors import EnvironmentProblem, UsageError
from dr_lib.metrics.backupdir import ArchiveCache
from dr_lib.metrics.catalog import Inputs
from dr_lib.metrics.collect import MetricsSettings, build_registry, gather

log = logging.getLogger(__name__)
_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d{1,5})$")
StartResponse = Callable[..., Any]


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (all interfaces, as the seed's ``:9101``) or ``[V6]:PORT``."""
    match = _LISTEN.match(text.strip())
    port = int(match.group("port")) if match else 0
    if match is None or not 0 <= port < 65536:
        raise UsageError(f"listen address {text!r} is not valid; accepted: HOST:PORT, :PORT or [IPv6]:PORT "
                         "with a port 0-65535 (0: any free port), e.g. 0.0.0.0:9101")
    return (match.group("v6") or match.group("host") or "0.0.0.0"), port  # noqa: S104 - the seed's exporter listened on all interfaces


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a stuck client must not keep the process alive at shutdown


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Prometheus scrapes every few seconds: an access log line each would drown the real messages."""


class MetricsApp:
    """The WSGI application: ``/metrics`` (and ``/``) and ``/healthz``."""

    def __init__(self, settings: MetricsSettings, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, inputs: Callable[[], Inputs] | None = None) -> None:
        self._settings = settings
        self._clock = clock
        self._monotonic = monotonic
        self._cache = ArchiveCache()
        self._lock = threading.Lock()  # one collection at a time: the archive cache is shared
        self._metrics = make_wsgi_app(build_registry(settings.prefix, inputs or self._inputs))

    def _inputs(self) -> Inputs:
        with self._lock:
            return gather(self._settings, self._clock(), self._monotonic(), cache=self._cache)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path not in ("/", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: the metrics are at /metrics\n"]
        try:
            return list(self._metrics(environ, start_response))
        except Exception as exc:  # noqa: BLE001 - one failed scrape must not take the exporter down
            log.error("scrape failed: %s", where_it_failed(exc))  # noqa: TRY400 - a traceback would print its text
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"k3s-dr exporter: collection failed (an internal error; the exporter's log says where)\n"]


def where_it_failed(exc: BaseException) -> str:
    """The exception's type and the frames it passed, without its message: an unexpected error's text may
    quote what it was reading (a state file, a manifest), and neither the page nor the journal gets that."""
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    path = " < ".join(f"{Path(frame.filename).name}:{frame.lineno} {frame.name}" for frame in reversed(frames))
    return f"{type(exc).__name__} at {path or 'an unknown place'}"


def bind(settings: MetricsSettings, listen: str, app: MetricsApp | None = None) -> WSGIServer:
    host, port = parse_listen(listen)
    server_class = _Server6 if ":" in host else _Server
    try:
        return make_server(host, port, app or MetricsApp(settings), server_class=server_class,
                           handler_class=_QuietHandler)
    except OSError as exc:
        hint = "stop the other process or choose another address with --listen or metrics.listen"
        if exc.errno == errno.EADDRINUSE:
            raise EnvironmentProblem(f"cannot listen on {listen}: the address is already in use", hint=hint) from None
        raise EnvironmentProblem(f"cannot listen on {listen}: {exc.strerror or exc}", hint=hint) from None


def serve(server: WSGIServer) -> None:
    """Serve until SIGTERM (returns: a clean stop for systemd) or Ctrl-C (KeyboardInterrupt)."""
    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
