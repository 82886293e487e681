"""The direct transport's connection handling, against a real HTTP server on loopback.

The server here is the standard library's, scripted per test (keep-alive, closing idle
connections, answering late); requests against a real API server are covered by the
integration tests (tests/integration/test_kube_backends.py and every backup/restore test).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dr_lib.errors import Unanswered
from dr_lib.kube import transport as transport_module
from dr_lib.kube.client import DirectBackend
from dr_lib.kube.kubeconfig import StaticCredentials
from dr_lib.kube.transport import HttpClientTransport


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    connections: ClassVar[set[int]] = set()
    seen: ClassVar[list[dict[str, Any]]] = []
    close_after_response = False
    delay = 0.0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def do_GET(self) -> None:
        type(self).connections.add(id(self.connection))
        type(self).seen.append({"path": self.path, "headers": dict(self.headers)})
        time.sleep(self.delay)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.close_after_response:
            # Close without "Connection: close": the client learns on its next request (a stale connection).
            self.close_connection = True

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, type[ScriptedHandler]]]:
    options = getattr(request, "param", {})
    handler = type("Handler", (ScriptedHandler,), {"connections": set(), "seen": [], **options})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def test_sequential_requests_reuse_one_connection(server: tuple[str, type[ScriptedHandler]]) -> None:
    url, handler = server
    transport = HttpClientTransport(url, None, 5.0)
    for _ in range(5):
        assert transport.send("GET", "/x", None, {}).status == 200
    assert len(handler.connections) == 1
    transport.close()


def test_threads_share_the_pool_without_mixing_answers(server: tuple[str, type[ScriptedHandler]]) -> None:
    url, handler = server
    transport = HttpClientTransport(url, None, 5.0, pool_size=4)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: transport.send("GET", f"/n/{i}", None, {}).status, range(80)))
    assert statuses == [200] * 80
    assert sorted(int(s["path"].rsplit("/", 1)[1]) for s in handler.seen) == list(range(80))
    assert len(handler.connections) <= 8
    transport.close()


@pytest.mark.parametrize("server", [{"close_after_response": True}], indirect=True)
def test_a_connection_the_server_closed_is_replaced(server: tuple[str, type[ScriptedHandler]]) -> None:
    url, handler = server
    transport = HttpClientTransport(url, None, 5.0)
    for _ in range(3):
        assert transport.send("GET", "/x", None, {}).status == 200
        time.sleep(0.05)  # let the server's close arrive
    assert len(handler.seen) == 3


@pytest.mark.parametrize("server", [{"delay": 1.0}], indirect=True)
def test_a_late_answer_is_a_timeout_not_a_hang(server: tuple[str, type[ScriptedHandler]]) -> None:
    url, _ = server
    with pytest.raises(Unanswered, match=r"TimeoutError|timed out"):
        HttpClientTransport(url, None, 5.0).send("GET", "/slow", None, {}, timeout=(1.0, 0.2))


def test_nothing_listening_is_unanswered_after_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "CONNECT_BACKOFF_S", 0.0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(Unanswered, match="ConnectionRefusedError"):
            HttpClientTransport(f"http://127.0.0.1:{port}", None, 5.0).send("GET", "/", None, {})


def test_the_direct_backend_sends_credentials_user_agent_and_query(server: tuple[str, type[ScriptedHandler]],
                                                                   tmp_path: Path) -> None:
    url, handler = server
    backend = DirectBackend(StaticCredentials(server=url + "/base", token="t0k"), tmp_path / "kubeconfig", None, 4)
    raw = backend.call("GET", "/api/v1/configmaps", query={"limit": 500, "labelSelector": "app in (a,b)"},
                       body=None, headers={"Accept": "application/json"}, timeout=(1.0, 5.0))
    assert raw.status == 200
    seen = handler.seen[-1]
    assert seen["path"] == "/base/api/v1/configmaps?limit=500&labelSelector=app+in+%28a%2Cb%29"
    assert seen["headers"]["Authorization"] == "Bearer t0k"
    assert seen["headers"]["User-Agent"].startswith("k3s-dr/")
    backend.close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, str, type[ScriptedHandler]]]:
    """HTTPS on loopback (a fresh self-signed certificate) that closes each connection after answering."""
    if shutil.which("openssl") is None:
        pytest.skip("the 'openssl' command is not installed (apt-get install openssl)")
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    handler = type("Handler", (ScriptedHandler,), {"connections": set(), "seen": [], "close_after_response": True})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", cert.read_text(), handler
    httpd.shutdown()
    httpd.server_close()


def test_a_tls_connection_the_server_closed_while_idle_is_not_reused(
        tls_server: tuple[str, str, type[ScriptedHandler]]) -> None:
    url, ca_pem, handler = tls_server
    transport = HttpClientTransport(url, ssl.create_default_context(cadata=ca_pem), 5.0)
    for i in range(4):
        assert transport.send("POST" if i % 2 else "GET", "/x", b"{}" if i % 2 else None, {}).status == 200
        time.sleep(0.1)  # the server's close (TLS close_notify, FIN) arrives while the connection is idle
    assert len(handler.seen) == 4
    transport.close()
