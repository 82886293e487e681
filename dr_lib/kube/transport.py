"""A lean HTTP transport for bulk writes: one keep-alive ``http.client`` connection per thread.

Measured here against the same API server: the generated client's urllib3 path costs ~600 µs
of CPU per small create, plain ``http.client`` ~370 µs. On a 2-core machine where the API
server and its datastore need the CPU too, that difference is restore throughput. The TLS
settings (CA, client certificate, verification) come from the kubeconfig the :class:`Kube`
was built from. Proxies and TLS server-name overrides are left to the urllib3 pool, which
handles them (see :func:`make_transport`).
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import urllib3

from dr_lib.errors import ClusterUnreachable

# A keep-alive connection the server closed while idle fails on first use: reconnect once.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, http.client.CannotSendRequest)


@dataclass(frozen=True)
class RawResponse:
    status: int
    data: bytes
    headers: Mapping[str, str]


class Transport(Protocol):
    def send(self, method: str, url_path: str, body: bytes | None, headers: dict[str, str]) -> RawResponse: ...


class HttpClientTransport:
    """Thread-local keep-alive connections to one server."""

    def __init__(self, server: str, context: ssl.SSLContext | None, timeout: float) -> None:
        url = urlsplit(server)
        self.host = url.hostname or "localhost"
        self.https = url.scheme == "https"
        self.port = url.port or (443 if self.https else 80)
        self.base = url.path.rstrip("/")
        self.context = context
        self.timeout = timeout
        self._local = threading.local()

    def _connect(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=self.timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None or fresh:
            if connection is not None:
                connection.close()
            connection = self._connect()
            self._local.connection = connection
        return connection

    def send(self, method: str, url_path: str, body: bytes | None, headers: dict[str, str]) -> RawResponse:
        for attempt in (1, 2):
            connection = self._connection(fresh=attempt == 2)
            try:
                connection.request(method, self.base + url_path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except _STALE:
                connection.close()
                if attempt == 1:
                    continue
                raise
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                raise
            if response.will_close:
                connection.close()
                self._local.connection = None
            return RawResponse(response.status, data, dict(response.getheaders()))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


class Urllib3Transport:
    """The generated client's pool (proxies, TLS server names): slower, complete."""

    def __init__(self, server: str, pool: urllib3.PoolManager, timeout: float) -> None:
        self.server = server.rstrip("/")
        self.pool = pool
        self.timeout = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)

    def send(self, method: str, url_path: str, body: bytes | None, headers: dict[str, str]) -> RawResponse:
        request: Any = self.pool.request  # typed loosely by the urllib3 stubs
        raw = request(method, self.server + url_path, body=body, headers=headers, timeout=self.timeout,
                      preload_content=True, retries=False)
        return RawResponse(raw.status, raw.data, dict(raw.headers))


def _ssl_context(configuration: Any) -> ssl.SSLContext:
    if configuration.verify_ssl:
        context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    return context


def make_transport(configuration: Any, pool: urllib3.PoolManager, timeout: float) -> Transport:
    """http.client when the kubeconfig needs nothing else, the urllib3 pool otherwise."""
    server = str(configuration.host)
    if configuration.proxy or configuration.tls_server_name or configuration.assert_hostname is not None:
        return Urllib3Transport(server, pool, timeout)
    try:
        context = _ssl_context(configuration) if server.startswith("https") else None
    except (OSError, ssl.SSLError) as exc:
        raise ClusterUnreachable(f"cannot set up TLS for {server}: {exc}") from None
    return HttpClientTransport(server, context, timeout)
