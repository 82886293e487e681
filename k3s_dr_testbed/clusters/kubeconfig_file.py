"""Rendering kubeconfig files (pure) and writing them (atomic, mode 0600: they hold a token)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from k3s_dr_testbed.clusters.files import write_atomic


def render_kubeconfig(*, cluster_name: str, server: str, token: str, ca_pem: bytes | None) -> str:
    """A one-context kubeconfig. With ``ca_pem`` the server's certificate is verified."""
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is None:
        cluster["insecure-skip-tls-verify"] = True
    else:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    context = f"k3s-dr-{cluster_name}"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": f"{context}-admin", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-admin"}}],
        "current-context": context,
        "preferences": {},
    }
    return yaml.safe_dump(document, sort_keys=False)


def write_kubeconfig(path: Path, *, cluster_name: str, server: str, token: str, ca_pem: bytes | None) -> Path:
    write_atomic(path, render_kubeconfig(cluster_name=cluster_name, server=server, token=token, ca_pem=ca_pem))
    return path


def server_of(kubeconfig_text: str) -> str | None:
    """The current context's server address, or None if the file does not say."""
    try:
        document = yaml.safe_load(kubeconfig_text)
    except yaml.YAMLError:
        return None
    if not isinstance(document, dict):
        return None
    contexts = {c.get("name"): c.get("context", {}) for c in document.get("contexts") or [] if isinstance(c, dict)}
    current = contexts.get(document.get("current-context")) or {}
    clusters = {c.get("name"): c.get("cluster", {}) for c in document.get("clusters") or [] if isinstance(c, dict)}
    server = (clusters.get(current.get("cluster")) or {}).get("server")
    return str(server) if server else None
