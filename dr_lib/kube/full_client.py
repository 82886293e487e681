"""The ``kubernetes`` client's path: any kubeconfig, any credential plugin, exec streams.

Imported only when needed — a kubeconfig with exec credential plugins, auth providers,
impersonation, a proxy or a TLS server-name override (:func:`dr_lib.kube.kubeconfig.read_static_credentials`
returns None for those), or a command that opens exec streams — because importing the
client loads every generated model (~0.25 s). Requests still ask for raw JSON
(``_preload_content=False``): decoding into the generated models is slow and lossy for custom
resources.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from dr_lib.errors import ClusterUnreachable, Unanswered, UsageError
from dr_lib.kube.transport import HttpClientTransport, RawResponse, Transport


def load_configuration(kubeconfig: Path, context: str | None, pool_size: int = 16) -> Any:
    """The client's Configuration for ``kubeconfig``; a clear error when it is unusable."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(config_file=str(kubeconfig), context=context,
                                    client_configuration=configuration, persist_config=False)
    except (ConfigException, ValueError, OSError, TypeError, AttributeError) as exc:
        raise UsageError(f"kubeconfig {str(kubeconfig)!r} is not usable: {exc}") from None
    configuration.connection_pool_maxsize = pool_size
    configuration.retries = urllib3.Retry(total=2, connect=2, read=0, backoff_factor=0.2)
    return configuration


class ClientBackend:
    """Requests through the generated client's ApiClient (urllib3 pool, refresh hooks)."""

    def __init__(self, configuration: Any) -> None:
        self.api_client = k8s_client.ApiClient(configuration)
        self.server: str = str(configuration.host).rstrip("/")
        self._write_transport: Transport | None = None

    @classmethod
    def load(cls, kubeconfig: Path, context: str | None, pool_size: int) -> ClientBackend:
        return cls(load_configuration(kubeconfig, context, pool_size))

    def call(self, method: str, path: str, *, query: Mapping[str, Any] | None, body: Any, headers: dict[str, str],
             timeout: tuple[float, float]) -> RawResponse:
        try:
            raw = self.api_client.call_api(
                path, method, query_params=list((query or {}).items()), header_params=headers, body=body,
                auth_settings=["BearerToken"], _preload_content=False, _request_timeout=timeout,
            )
        except ApiException as exc:
            data = exc.body.encode() if isinstance(exc.body, str) else (exc.body or b"")
            return RawResponse(exc.status or 0, data, {})
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unanswered(type(exc).__name__) from None
        http = raw[0] if isinstance(raw, tuple) else raw
        return RawResponse(http.status, http.data or b"", dict(http.headers))

    def auth_headers(self) -> dict[str, str]:
        # Read per request: an exec plugin's token is refreshed through this call.
        token = self.api_client.configuration.auth_settings().get("BearerToken")
        return {"Authorization": token["value"]} if token and token.get("value") else {}

    def write_transport(self) -> Transport:
        if self._write_transport is None:
            self._write_transport = make_transport(self.api_client.configuration,
                                                   self.api_client.rest_client.pool_manager)
        return self._write_transport

    def client_configuration(self) -> Any:
        return self.api_client.configuration

    def close(self) -> None:
        self.api_client.close()


class Urllib3Transport:
    """The generated client's pool (proxies, TLS server names): slower, complete."""

    def __init__(self, server: str, pool: urllib3.PoolManager) -> None:
        self.server = server.rstrip("/")
        self.pool = pool

    def send(self, method: str, url_path: str, body: bytes | None, headers: dict[str, str],
             timeout: tuple[float, float] | None = None) -> RawResponse:
        connect, read = timeout or (5.0, 60.0)
        request: Any = self.pool.request  # typed loosely by the urllib3 stubs
        try:
            raw = request(method, self.server + url_path, body=body, headers=headers,
                          timeout=urllib3.Timeout(connect=connect, read=read), preload_content=True, retries=False)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unanswered(type(exc).__name__) from None
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


def make_transport(configuration: Any, pool: urllib3.PoolManager, timeout: float = 60.0) -> Transport:
    """http.client when the configuration needs nothing else, the urllib3 pool otherwise."""
    server = str(configuration.host)
    if configuration.proxy or configuration.tls_server_name or configuration.assert_hostname is not None:
        return Urllib3Transport(server, pool)
    try:
        context = _ssl_context(configuration) if server.startswith("https") else None
    except (OSError, ssl.SSLError) as exc:
        raise ClusterUnreachable(f"cannot set up TLS for {server}: {exc}") from None
    return HttpClientTransport(server, context, timeout)
