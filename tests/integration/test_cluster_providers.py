"""The kubeconfig provider works on an existing cluster and deletes only what it created."""

from __future__ import annotations

from typing import Any

import pytest

from dr_lib.cluster.kubeconfig import open_existing
from dr_lib.cluster.namespaces import create_namespace, delete_namespace
from dr_lib.errors import ClusterUnreachable, UsageError
from dr_lib.kube.client import Kube


def test_existing_cluster_deletes_only_the_namespaces_it_created(cluster: Any, kube: Kube) -> None:
    existing = open_existing(cluster.kubeconfig)
    assert existing.server == cluster.server
    assert existing.kubernetes_version == cluster.kubernetes_version
    assert existing.db_path is None
    foreign = create_namespace(kube, "not-made-by-the-provider")
    try:
        own = existing.create_namespace("made-by-the-provider")
        with pytest.raises(UsageError, match="was not created by k3s-dr here"):
            existing.delete_namespace(foreign)
        existing.stop()
        assert kube.get(f"/api/v1/namespaces/{own}")["metadata"].get("deletionTimestamp")
        assert not kube.get(f"/api/v1/namespaces/{foreign}")["metadata"].get("deletionTimestamp")
        assert existing.created_namespaces == []
    finally:
        delete_namespace(kube, foreign)


def test_existing_cluster_that_does_not_answer_is_named(tmp_path: Any) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n")
    with pytest.raises(ClusterUnreachable, match=r"127\.0\.0\.1:9"):
        open_existing(config)


def test_kubeconfig_provider_needs_a_path() -> None:
    with pytest.raises(UsageError, match="--kubeconfig-path"):
        open_existing(None)
