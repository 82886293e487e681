"""Semantic equality after sanitizing: archive ⊆ live, strict on user maps, Secrets never shown."""

from __future__ import annotations

import base64

from dr_lib.drill.compare import differences
from dr_lib.drill.redact import REDACTED


def _cm(data: dict[str, str], **meta: object) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n", **meta}, "data": data}


def _secret(value: str, **meta: object) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n", **meta},
            "type": "Opaque", "data": {"password": base64.b64encode(value.encode()).decode()}}


def test_equal_objects_and_server_defaults_are_not_differences() -> None:
    backed_up = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2}}
    live = {"kind": "Deployment", "metadata": {"name": "d", "uid": "x"},
            "spec": {"replicas": 2, "revisionHistoryLimit": 10}}
    assert differences(backed_up, live) == []


def test_changed_and_absent_fields() -> None:
    backed_up = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2, "paused": False}}
    live = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}}
    found = {d.path: (d.expected, d.actual) for d in differences(backed_up, live)}
    assert found == {"spec.replicas": ("2", "1"), "spec.paused": ("False", "(absent)")}


def test_lists_compare_by_length_and_element() -> None:
    backed_up = {"kind": "Service", "spec": {"ports": [{"port": 80}, {"port": 443}]}}
    assert [d.path for d in differences(backed_up, {"kind": "Service", "spec": {"ports": [{"port": 80}]}})] == [
        "spec.ports"]
    live = {"kind": "Service", "spec": {"ports": [{"port": 80}, {"port": 8443, "protocol": "TCP"}]}}
    assert [d.path for d in differences(backed_up, live)] == ["spec.ports[1].port"]


def test_user_maps_are_strict_both_ways() -> None:
    assert [d.path for d in differences(_cm({"a": "1"}), _cm({"a": "1", "b": "2"}))] == ["data.b"]
    assert [d.path for d in differences(_cm({"a": "1"}, labels={"x": "1"}), _cm({"a": "1"}, labels={"x": "1",
                                                                                                 "y": "2"}))] == [
        "metadata.labels.y"]
    assert [d.path for d in differences(_cm({}), _cm({}, annotations={"extra": "1"}))] == ["metadata.annotations"]


def test_secret_values_are_compared_but_never_shown() -> None:
    found = differences(_secret("drill-old-password"), _secret("drill-new-password"))
    assert [d.path for d in found] == ["data.password"]
    text = " ".join(str(d) for d in found)
    assert REDACTED in text and "drill-" not in text and "ZHJpbGwt" not in text
    assert differences(_secret("same-value-123"), _secret("same-value-123")) == []
    last_applied = {"kubectl.kubernetes.io/last-applied-configuration": '{"data": {"password": "cGxhaW4="}}'}
    shown = str(differences(_secret("v" * 10, annotations=last_applied), _secret("v" * 10)))
    assert "cGxhaW4" not in shown and REDACTED in shown
