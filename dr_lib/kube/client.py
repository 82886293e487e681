"""A connection to one API server: typed, raw JSON in and out, errors as our own.

Objects travel as plain dicts (the JSON the API server speaks): decoding into the
``kubernetes`` client's generated models is slow and lossy for custom resources. Connection
failures and credential refusals become our own errors; every other HTTP status is returned
as a value (:class:`Response`) for the caller to judge, because "409 already exists" or
"404" is data to a backup or restore, not an exception.

Two backends carry the requests. A kubeconfig with static credentials (what k3s writes) uses
the direct transport (:mod:`dr_lib.kube.transport`); anything else — exec credential plugins,
auth providers, proxies — uses the ``kubernetes`` client (:mod:`dr_lib.kube.full_client`),
imported only then.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson

from dr_lib import __version__
from dr_lib.errors import ClusterAuthError, ClusterError, ClusterUnreachable, Unanswered, UsageError
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.kubeconfig import (
    StaticCredentials,
    proxied_by_environment,
    read_static_credentials,
    warn_if_insecure,
)
from dr_lib.kube.transport import HttpClientTransport, RawResponse, Transport, ssl_context

DEFAULT_TIMEOUT = (5.0, 60.0)  # (connect, read) seconds: no call waits forever


@dataclass(frozen=True)
class ResourceType:
    """One REST resource of the API server (what discovery reports)."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = field(default=("list", "get", "create"), compare=False)

    @property
    def api_version(self) -> str:
        return self.version if not self.group else f"{self.group}/{self.version}"

    @property
    def group_version_path(self) -> str:
        return "/api/v1" if not self.group else f"/apis/{self.group}/{self.version}"

    def collection_path(self, namespace: str | None = None) -> str:
        if self.namespaced and namespace:
            return f"{self.group_version_path}/namespaces/{namespace}/{self.plural}"
        return f"{self.group_version_path}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    @property
    def group_kind(self) -> str:
        return self.kind if not self.group else f"{self.kind}.{self.group}"


@dataclass(frozen=True)
class Response:
    """An HTTP answer from the API server, body decoded when it is JSON."""

    status: int
    body: JSONObject

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def reason(self) -> str:
        """The API server's own message for a non-2xx answer (a Status object)."""
        message = self.body.get("message")
        return str(message) if message else f"HTTP {self.status}"


def decode_body(data: bytes | str | None) -> JSONObject:
    """A response body as a JSON object: lists under ``items``, non-JSON text under ``message``."""
    # orjson: a LIST page of 500 objects decodes in two thirds of json's time. Its one
    # inexactness, integers beyond 64 bits, cannot come from an API server (Go holds them as
    # int64 or float64); what it refuses (NaN, a lone surrogate escape) goes to json.
    if not data:
        return {}
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError:
        decoded = _decode_stdlib(data)
    return decoded if isinstance(decoded, dict) else {"items": decoded}


def _decode_stdlib(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        return {"message": text.strip()[:500]}


class Backend(Protocol):
    """What carries a :class:`Kube`'s requests (see the module docstring)."""

    server: str

    def call(self, method: str, path: str, *, query: Mapping[str, Any] | None, body: Any, headers: dict[str, str],
             timeout: tuple[float, float]) -> RawResponse: ...

    def auth_headers(self) -> dict[str, str]: ...

    def write_transport(self) -> Transport: ...

    def client_configuration(self) -> Any: ...

    def close(self) -> None: ...


USER_AGENT = f"k3s-dr/{__version__}"
_TLS_HINT = "the server's certificate is not signed by the kubeconfig's certificate-authority, or TLS settings disagree"


def _encode_body(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class DirectBackend:
    """Static credentials over pooled ``http.client`` connections; no ``kubernetes`` import."""

    def __init__(self, credentials: StaticCredentials, kubeconfig: Path, context: str | None, pool_size: int) -> None:
        self.server = credentials.server
        authorization = credentials.authorization()
        self._auth = {"Authorization": authorization} if authorization else {}
        self._kubeconfig, self._context, self._pool_size = kubeconfig, context, pool_size
        try:
            tls = ssl_context(credentials) if self.server.startswith("https") else None
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise UsageError(f"kubeconfig {str(kubeconfig)!r}: its TLS settings are not usable: {exc}") from None
        self.transport = HttpClientTransport(self.server, tls, DEFAULT_TIMEOUT[1], pool_size)
        self._configuration: Any = None

    def call(self, method: str, path: str, *, query: Mapping[str, Any] | None, body: Any, headers: dict[str, str],
             timeout: tuple[float, float]) -> RawResponse:
        url_path = path + ("?" + urlencode(query) if query else "")
        data = _encode_body(body)
        return self.transport.send(method, url_path, data, {**headers, **self._auth, "User-Agent": USER_AGENT},
                                   timeout)

    def auth_headers(self) -> dict[str, str]:
        return dict(self._auth)

    def write_transport(self) -> Transport:
        return self.transport

    def client_configuration(self) -> Any:
        """The ``kubernetes`` client's view of the same kubeconfig, for exec streams (loaded once)."""
        if self._configuration is None:
            from dr_lib.kube.full_client import load_configuration  # noqa: PLC0415 - heavy, rarely needed

            self._configuration = load_configuration(self._kubeconfig, self._context, self._pool_size)
        return self._configuration

    def close(self) -> None:
        self.transport.close()


class Kube:
    """A connection to one API server. Thread-safe: the backends' pools are shared by all threads."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.server: str = backend.server

    @classmethod
    def from_kubeconfig(cls, path: str | Path, *, context: str | None = None, pool_size: int = 16,
                        environ: Mapping[str, str] | None = None) -> Kube:
        kubeconfig = Path(path)
        if not kubeconfig.is_file():
            raise UsageError(f"kubeconfig {str(kubeconfig)!r} does not exist or is not a file",
                             hint="pass --kubeconfig PATH or set 'kubeconfig' in the config file")
        credentials = read_static_credentials(kubeconfig, context)
        if credentials is not None and not proxied_by_environment(credentials.server, os.environ
                                                                  if environ is None else environ):
            warn_if_insecure(kubeconfig, credentials.insecure)
            return cls(DirectBackend(credentials, kubeconfig, context, pool_size))
        from dr_lib.kube.full_client import ClientBackend  # noqa: PLC0415 - only for non-static kubeconfigs

        backend = ClientBackend.load(kubeconfig, context, pool_size)
        warn_if_insecure(kubeconfig, not backend.api_client.configuration.verify_ssl)
        return cls(backend)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> Response:
        """One HTTP call. Raises only for no answer or refused credentials."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            raw = self.backend.call(method, path, query=query, body=body, headers=headers, timeout=timeout)
        except Unanswered as exc:
            hint = (_TLS_HINT if exc.tls else "is the cluster running and the kubeconfig's server address right?")
            raise ClusterUnreachable(f"API server {self.server} did not answer {method} {path}: {exc}",
                                     hint=hint) from None
        response = Response(raw.status, decode_body(raw.data))
        if raw.status in (401, 403) and not path.endswith(("/selfsubjectaccessreviews",)):
            self._raise_auth(response, method, path)
        return response

    def client_configuration(self) -> Any:
        """The ``kubernetes`` client's Configuration for this server (imports the client)."""
        return self.backend.client_configuration()

    def _raise_auth(self, response: Response, method: str, path: str) -> None:
        if response.status == 401:
            raise ClusterAuthError(
                f"API server {self.server} refused our credentials (401 Unauthorized) for {method} {path}",
                hint="the kubeconfig's token or certificate is wrong or expired",
            )
        raise ClusterAuthError(f"API server {self.server} forbids {method} {path} (403): {response.reason}")

    def get(self, path: str, query: dict[str, Any] | None = None) -> JSONObject:
        """GET that must succeed: non-2xx becomes a ClusterError with the server's reason."""
        response = self.request("GET", path, query=query)
        if not response.ok:
            raise ClusterError(f"GET {path} on {self.server} failed: {response.reason}")
        return response.body

    def version(self) -> str:
        return str(self.get("/version").get("gitVersion", "unknown"))

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
