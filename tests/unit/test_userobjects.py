"""The user-object rules shared by the backup shrink guard and auto-restore (dr_lib.archive.userobjects)."""

from __future__ import annotations

import pytest

from dr_lib.archive.userobjects import NOT_USER_OBJECTS, is_user_object, not_user_reason
from dr_lib.restore import auto
from dr_lib.restore.plan import ObjectKey


@pytest.mark.parametrize(("resource", "namespace", "name", "reason"), [
    ("namespaces", "", "kube-system", "the namespaces every cluster starts with"),
    ("namespaces", "", "default", "the namespaces every cluster starts with"),
    ("namespaces", "", "shop", None),
    ("serviceaccounts", "shop", "default", "the default service account"),
    ("serviceaccounts", "shop", "builder", None),
    ("configmaps", "kube-public", "cluster-info", "objects in the system namespaces"),
    ("deployments.apps", "kube-system", "coredns", "objects in the system namespaces"),
    ("configmaps", "default", "app", None),  # "default" is built in but what users put there is theirs
    ("configmaps", "shop", "kube-root-ca.crt", "the CA bundle the root-CA publisher puts in every namespace"),
    ("services", "default", "kubernetes", "the API server's own Service"),
    ("clusterroles.rbac.authorization.k8s.io", "", "mine", None),
    ("clustertrustbundles.certificates.k8s.io", "", "kubernetes.io:kube-apiserver-serving:83a667f358d37c71839d81af",
     "the API server's serving CA"),
    ("clustertrustbundles.certificates.k8s.io", "", "example.com:mysigner:1", None),
    ("configmaps", "shop", "kubernetes.io:kube-apiserver-serving:x", None),  # the prefix alone is not enough
])
def test_rules_with_reasons(resource: str, namespace: str, name: str, reason: str | None) -> None:
    found = not_user_reason(resource, namespace, name)
    assert (found is None) == (reason is None)
    if reason is not None:
        assert found is not None and found.startswith(reason)
    assert is_user_object(resource, namespace, name) is (reason is None)


def test_every_rule_has_a_reason_and_restore_uses_the_same_rules() -> None:
    assert all(rule.reason for rule in NOT_USER_OBJECTS)
    assert auto.NOT_USER_OBJECTS is NOT_USER_OBJECTS
    assert auto.is_user_object(ObjectKey("serviceaccounts", "shop", "default")) is False
    assert auto.is_user_object(ObjectKey("serviceaccounts", "shop", "robot")) is True


def test_objects_every_cluster_makes_by_itself_in_default_are_not_user_objects() -> None:
    assert not is_user_object("configmaps", "default", "kube-root-ca.crt")
    assert not is_user_object("configmaps", "shop", "kube-root-ca.crt")
    assert not is_user_object("services", "default", "kubernetes")
    assert is_user_object("services", "shop", "kubernetes")
    assert is_user_object("configmaps", "default", "app-settings")
