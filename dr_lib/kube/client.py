"""A thin, typed wrapper over the ``kubernetes`` client's ApiClient.

Objects travel as plain dicts (the JSON the API server speaks): decoding into the client's
generated models is slow and lossy for custom resources, so every call here asks for raw
JSON (``_preload_content=False``) and decodes it with ``json``. Connection failures and
credential refusals become our own errors; every other HTTP status is returned as a value
(:class:`Response`) for the caller to judge, because "409 already exists" or "404" is data
to a backup or restore, not an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from dr_lib.errors import ClusterAuthError, ClusterError, ClusterUnreachable, UsageError

JSONObject = dict[str, Any]

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


def _decode(data: bytes | str | None) -> JSONObject:
    if not data:
        return {}
    try:
        decoded = json.loads(data)
    except ValueError:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        return {"message": text.strip()[:500]}
    return decoded if isinstance(decoded, dict) else {"items": decoded}


class Kube:
    """A connection to one API server. Thread-safe: urllib3's pool is shared by all threads."""

    def __init__(self, api_client: k8s_client.ApiClient) -> None:
        self.api_client = api_client
        self.server: str = api_client.configuration.host

    @classmethod
    def from_kubeconfig(cls, path: str | Path, *, context: str | None = None, pool_size: int = 16) -> Kube:
        kubeconfig = Path(path)
        if not kubeconfig.is_file():
            raise UsageError(f"kubeconfig {str(kubeconfig)!r} does not exist or is not a file",
                             hint="pass --kubeconfig PATH or set 'kubeconfig' in the config file")
        configuration = k8s_client.Configuration()
        try:
            k8s_config.load_kube_config(config_file=str(kubeconfig), context=context,
                                        client_configuration=configuration, persist_config=False)
        except (ConfigException, ValueError, OSError, TypeError, AttributeError) as exc:
            raise UsageError(f"kubeconfig {str(kubeconfig)!r} is not usable: {exc}") from None
        configuration.connection_pool_maxsize = pool_size
        configuration.retries = urllib3.Retry(total=2, connect=2, read=0, backoff_factor=0.2)
        return cls(k8s_client.ApiClient(configuration))

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
            raw = self.api_client.call_api(
                path, method, query_params=list((query or {}).items()), header_params=headers,
                body=body, auth_settings=["BearerToken"], _preload_content=False,
                _request_timeout=timeout,
            )
        except ApiException as exc:
            response = Response(exc.status or 0, _decode(exc.body))
            if exc.status in (401, 403) and not path.endswith(("/selfsubjectaccessreviews",)):
                self._raise_auth(response, method, path)
            return response
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnreachable(
                f"API server {self.server} did not answer {method} {path}: {type(exc).__name__}",
                hint="is the cluster running and the kubeconfig's server address right?",
            ) from None
        http = raw[0] if isinstance(raw, tuple) else raw
        return Response(http.status, _decode(http.data))

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
        self.api_client.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
