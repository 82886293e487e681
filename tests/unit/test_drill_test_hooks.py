"""The two small hooks the drill added to other areas: the TEST-ONLY sanitizer switch the broken
drill uses, and the k3s image the CI matrix picks for the k3d provider."""

from __future__ import annotations

import pytest

from dr_lib.jobs.restore_options import TEST_DISABLE_SANITIZER_ENV, disabled_sanitizers_for_tests
from dr_lib.restore.plan import ArchiveContext, PlanOptions, TypeRef, sanitize
from k3s_dr_testbed.clusters import k3d

PV = TypeRef("", "v1", "persistentvolumes", "PersistentVolume", False)


def _volume() -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "v", "uid": "u1"},
            "spec": {"claimRef": {"namespace": "a", "name": "c", "uid": "old-claim", "resourceVersion": "7"}}}


def test_the_switch_skips_only_the_named_resources_sanitizer() -> None:
    normal = sanitize(PV, _volume(), ArchiveContext(), PlanOptions())
    assert normal["spec"]["claimRef"] == {"namespace": "a", "name": "c"}
    options = PlanOptions(disabled_sanitizers=frozenset({"persistentvolumes"}))
    broken = sanitize(PV, _volume(), ArchiveContext(), options)
    assert broken["spec"]["claimRef"]["uid"] == "old-claim"
    assert "uid" not in broken["metadata"], "server-set metadata is still stripped"


def test_switch_is_read_from_the_environment_only_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_DISABLE_SANITIZER_ENV, raising=False)
    assert disabled_sanitizers_for_tests() == frozenset()
    monkeypatch.setenv(TEST_DISABLE_SANITIZER_ENV, "persistentvolumes, services")
    assert disabled_sanitizers_for_tests() == {"persistentvolumes", "services"}


def test_k3d_image_from_the_ci_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(k3d.K3S_IMAGE_ENV, raising=False)
    assert k3d.k3s_image() == k3d.K3S_IMAGE
    monkeypatch.setenv(k3d.K3S_IMAGE_ENV, "rancher/k3s:v1.33.5-k3s1")
    assert k3d.k3s_image() == "rancher/k3s:v1.33.5-k3s1"
