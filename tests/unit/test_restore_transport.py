"""Which transport the restore write path picks for a kubeconfig (pure choice; requests are
covered by the integration tests against a real API server)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import urllib3

from dr_lib.kube.full_client import Urllib3Transport, make_transport
from dr_lib.kube.transport import HttpClientTransport
from dr_lib.kube.writing import encode, segment


@dataclass
class FakeConfiguration:
    """The fields of the kubernetes client's Configuration the choice reads."""

    host: str = "https://127.0.0.1:6443/prefix"
    verify_ssl: bool = False
    ssl_ca_cert: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    proxy: str | None = None
    tls_server_name: str | None = None
    assert_hostname: str | None = None


@pytest.mark.parametrize(("config", "expected"), [
    (FakeConfiguration(), HttpClientTransport),
    (FakeConfiguration(host="http://127.0.0.1:8080"), HttpClientTransport),
    (FakeConfiguration(proxy="http://proxy:3128"), Urllib3Transport),
    (FakeConfiguration(tls_server_name="kubernetes"), Urllib3Transport),
    (FakeConfiguration(assert_hostname="kubernetes"), Urllib3Transport),
])
def test_transport_choice(config: FakeConfiguration, expected: type) -> None:
    transport = make_transport(config, urllib3.PoolManager(), 30.0)
    assert isinstance(transport, expected)


def test_http_client_transport_keeps_the_server_path_prefix() -> None:
    transport = make_transport(FakeConfiguration(), urllib3.PoolManager(), 30.0)
    assert isinstance(transport, HttpClientTransport)
    assert (transport.host, transport.port, transport.base, transport.https) == ("127.0.0.1", 6443, "/prefix", True)


def test_encoding_and_path_segments() -> None:
    assert encode({"b": "ü", "a": [1]}) == '{"b":"ü","a":[1]}'.encode()
    assert segment("system:aggregate-to-admin") == "system:aggregate-to-admin"
    assert segment("a/b?c#d") == "a%2Fb%3Fc%23d"
