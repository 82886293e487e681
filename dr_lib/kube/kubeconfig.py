"""Reading a kubeconfig whose credentials are static: a token, a client certificate, a password.

That is what k3s writes (``/etc/rancher/k3s/k3s.yaml``: a client certificate and the CA, all
inline) and what service-account kubeconfigs hold. For those the direct transport needs
nothing else, and a backup skips importing the ``kubernetes`` client, which costs ~0.25 s
(it loads every generated model) — a fifth of a 10,000-object backup.

Anything this module does not fully understand — exec credential plugins, auth providers,
impersonation, proxies (the kubeconfig's ``proxy-url``, or the environment's ``HTTPS_PROXY``
and friends, which the ``kubernetes`` client honours), TLS server-name overrides, unknown user
fields — makes :func:`read_static_credentials` return ``None`` (or
:func:`proxied_by_environment` True), and the caller uses the ``kubernetes`` client's own
loader, which implements them. File paths are relative to the kubeconfig's
directory, as kubectl reads them.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from dr_lib.errors import UsageError

# Fields the direct path implements. Any other user field (exec, auth-provider, as, ...)
# sends the kubeconfig to the kubernetes client, so a credential is never silently ignored.
_STATIC_USER_FIELDS = frozenset({
    "token", "tokenFile", "client-certificate", "client-certificate-data", "client-key", "client-key-data",
    "username", "password", "extensions",
})
# Cluster fields that change how to connect beyond what the direct transport does.
_CLIENT_ONLY_CLUSTER_FIELDS = ("proxy-url", "tls-server-name")
# What the kubernetes client's Configuration reads from the environment for a proxy.
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
log = logging.getLogger(__name__)
_warned: set[str] = set()  # kubeconfigs already warned about in this process: one line per command
_warned_lock = threading.Lock()


@dataclass(frozen=True)
class StaticCredentials:
    """How to reach and authenticate to one API server. Secrets are left out of ``repr``."""

    server: str
    insecure: bool = False
    ca_pem: str | None = None  # the CA bundle's PEM text (inline data or the file's content)
    cert_pem: bytes | None = field(default=None, repr=False)
    key_pem: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def authorization(self) -> str | None:
        """The Authorization header value; a token wins over a password, as in client-go."""
        if self.token:
            return f"Bearer {self.token}"
        if self.username is not None and self.password is not None:
            basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
            return f"Basic {basic}"
        return None


def load_kubeconfig_document(path: Path) -> dict[str, Any]:
    """The kubeconfig as a mapping; a clear error for a file that is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"kubeconfig {str(path)!r} is not UTF-8 text (byte offset {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"kubeconfig {str(path)!r} cannot be read: {exc.strerror or type(exc).__name__}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # PyYAML's message quotes the offending line, which in a kubeconfig may be a token: say where, not what.
        raise UsageError(f"kubeconfig {str(path)!r} is not valid YAML ({yaml_error_position(exc)})",
                         hint="open the file at that place; nothing of its content is shown here") from None
    if not isinstance(document, dict):
        raise UsageError(f"kubeconfig {str(path)!r} is not usable: expected a mapping with clusters, users "
                         "and contexts")
    return document


def yaml_error_position(exc: yaml.YAMLError) -> str:
    """``ScannerError at line 7, column 12``: the kind of error and where, never any of the text."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return type(exc).__name__
    return f"{type(exc).__name__} at line {mark.line + 1}, column {mark.column + 1}"


def warn_if_insecure(path: Path, insecure: bool) -> None:
    """One warning line per command and kubeconfig that turns TLS verification off."""
    if not insecure:
        return
    key = str(path.resolve())
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning("warning: kubeconfig %r sets insecure-skip-tls-verify: the API server's certificate is not "
                "checked, so whoever sits on the network path can pose as the cluster (and read every Secret "
                "restored or backed up); set certificate-authority-data instead", str(path))


def _named(document: dict[str, Any], section: str, name: str, path: Path) -> dict[str, Any]:
    entries = document.get(section) or []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(section[:-1])  # clusters → cluster, users → user, contexts → context
            if isinstance(body, dict):
                return body
            if body is None and section == "users":
                return {}  # a user entry with no fields: anonymous
    names = [str(e.get("name")) for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    raise UsageError(f"kubeconfig {str(path)!r} has no {section[:-1]} named {name!r}: accepted is one of "
                     f"{', '.join(names) or '(none defined)'}")


def _select_context(document: dict[str, Any], context: str | None, path: Path) -> dict[str, Any]:
    name = context or document.get("current-context")
    if not name:
        raise UsageError(f"kubeconfig {str(path)!r} names no current-context", hint="pass --context NAME")
    return _named(document, "contexts", str(name), path)


def _inline(value: Any, what: str, path: Path) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"kubeconfig {str(path)!r}: {what} is not valid base64") from None


def _file(value: Any, what: str, path: Path) -> bytes:
    target = Path(str(value)).expanduser()
    target = target if target.is_absolute() else path.parent / target
    try:
        return target.read_bytes()
    except OSError as exc:
        raise UsageError(f"kubeconfig {str(path)!r}: {what} file {str(target)!r} cannot be read: "
                         f"{exc.strerror or exc}") from None


def _pem(entry: dict[str, Any], key: str, what: str, path: Path) -> bytes | None:
    if entry.get(f"{key}-data"):
        return _inline(entry[f"{key}-data"], f"{what} data", path)
    if entry.get(key):
        return _file(entry[key], what, path)
    return None


def _token(user: dict[str, Any], path: Path) -> str | None:
    if user.get("token"):
        return str(user["token"])
    if user.get("tokenFile"):
        return _file(user["tokenFile"], "tokenFile", path).decode("utf-8", "replace").strip() or None
    return None


def read_static_credentials(path: Path, context: str | None = None) -> StaticCredentials | None:
    """The credentials of ``context`` (the current one by default), or None when they are not static."""
    document = load_kubeconfig_document(path)
    selected = _select_context(document, context, path)
    cluster = _named(document, "clusters", str(selected.get("cluster")), path)
    user = _named(document, "users", str(selected.get("user")), path) if selected.get("user") else {}
    if set(user) - _STATIC_USER_FIELDS or any(cluster.get(key) for key in _CLIENT_ONLY_CLUSTER_FIELDS):
        return None
    server = cluster.get("server")
    if not server or not str(server).startswith(("https://", "http://")):
        raise UsageError(f"kubeconfig {str(path)!r}: cluster {selected.get('cluster')!r} has server {server!r}: "
                         "accepted is an https:// or http:// URL")
    ca = _pem(cluster, "certificate-authority", "certificate-authority", path)
    return StaticCredentials(
        server=str(server).rstrip("/"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        ca_pem=ca.decode("utf-8", "replace") if ca else None,
        cert_pem=_pem(user, "client-certificate", "client-certificate", path),
        key_pem=_pem(user, "client-key", "client-key", path),
        token=_token(user, path),
        username=str(user["username"]) if user.get("username") is not None else None,
        password=str(user["password"]) if user.get("password") is not None else None,
    )


def proxied_by_environment(server: str, environ: Mapping[str, str]) -> bool:
    """Whether the environment sends requests to ``server`` through a proxy (``NO_PROXY`` aside).

    ``NO_PROXY`` entries match a host exactly or as a domain suffix (``*`` matches all), as curl
    and Python read them; CIDR ranges are not understood here, so a server they exempt goes to
    the kubernetes client, which decides as before — never the other way round.
    """
    if not any(environ.get(variable) for variable in _PROXY_VARIABLES):
        return False
    host = (urlsplit(server).hostname or "").lower()
    for entry in (environ.get("no_proxy") or environ.get("NO_PROXY") or "").split(","):
        name = entry.strip().lower().rsplit(":", 1)[0] if entry.count(":") == 1 else entry.strip().lower()
        name = name.lstrip(".")
        if name == "*" or (name and (host == name or host.endswith("." + name))):
            return False
    return True
