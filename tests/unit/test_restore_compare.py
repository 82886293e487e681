"""Table-driven tests of the archive-vs-live comparison (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from dr_lib.restore.plan import compare_objects

BASE = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v"}}

# (case, archive, live, expected differences as strings)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("equal", BASE, BASE, []),
    ("server default live only: ignored", {"spec": {"a": 1}}, {"spec": {"a": 1, "defaulted": "x"}}, []),
    ("changed scalar", {"spec": {"replicas": 2}}, {"spec": {"replicas": 3}}, ["spec.replicas: 2 → 3"]),
    ("missing live", {"spec": {"paused": True}}, {"spec": {}}, ["spec.paused: missing live (True)"]),
    ("empty in archive equals absent", {"spec": {"x": {}, "y": [], "z": None}}, {"spec": {}}, []),
    ("extra label live", BASE, {**BASE, "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}},
     ["metadata.labels.b: extra live ('2')"]),
    ("labels only live", {"metadata": {"name": "c"}}, {"metadata": {"name": "c", "labels": {"x": "y"}}},
     ["metadata.labels: extra live ({'x': 'y'})"]),
    ("extra data key live", BASE, {**BASE, "data": {"k": "v", "k2": "w"}}, ["data.k2: extra live ('w')"]),
    ("list element changed", {"spec": {"ports": [{"port": 80}, {"port": 81}]}},
     {"spec": {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 82, "protocol": "TCP"}]}},
     ["spec.ports[1].port: 81 → 82"]),
    ("list length changed", {"spec": {"args": ["a"]}}, {"spec": {"args": ["a", "b"]}},
     ["spec.args: ['a'] → ['a', 'b']"]),
    ("bool is not int", {"spec": {"x": True}}, {"spec": {"x": 1}}, ["spec.x: True → 1"]),
    ("secret values redacted", {"kind": "Secret", "data": {"password": "c2VjcmV0"}},
     {"kind": "Secret", "data": {"password": "b3RoZXI="}}, ["data.password: <redacted> → <redacted>"]),
]


@pytest.mark.parametrize(("archive", "live", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_compare(archive: dict[str, Any], live: dict[str, Any], expected: list[str]) -> None:
    assert [str(d) for d in compare_objects(archive, live)] == expected
