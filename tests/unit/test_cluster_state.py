"""Cluster state records, liveness by pid + start time, stop order, mount safety, node readiness."""

import os
import re
from pathlib import Path

import pytest

from dr_lib.cluster.namespaces import namespace_name
from dr_lib.errors import UsageError
from k3s_dr_testbed.clusters.cleanup import mounts_under, stop_groups
from k3s_dr_testbed.clusters.processes import ProcessRecord, is_alive, start_ticks
from k3s_dr_testbed.clusters.readiness import node_problems
from k3s_dr_testbed.clusters.spec import ClusterSpec, cluster_dir, validate_flags, validate_name
from k3s_dr_testbed.clusters.state import ClusterState, Owner, load_state, save_state


def test_state_round_trips_through_its_file(tmp_path: Path) -> None:
    state = ClusterState(name="a", dir=str(tmp_path), status="running", nodes=3, real_node=False,
                         ports={"apiserver": 21000}, processes=(ProcessRecord("kine", 1, 2, "/l"),),
                         versions={"kubernetes": "v1.34.2"}, owner=Owner(5, 6),
                         apiserver_flags=("--watch-cache=false",), kine_flags=("--compact-min-retain=0",))
    save_state(state)
    assert load_state(tmp_path) == state
    assert oct((tmp_path / "state.json").stat().st_mode & 0o777) == "0o600"


def test_a_process_is_alive_only_with_its_own_start_time() -> None:
    me = ProcessRecord("me", os.getpid(), start_ticks(os.getpid()) or -1, "")
    assert is_alive(me)
    assert not is_alive(ProcessRecord("reused pid", os.getpid(), me.start_ticks + 1, ""))
    assert not is_alive(ProcessRecord("gone", 2**22 + 1, 0, ""))


def test_stop_order_is_clients_then_apiserver_then_kine() -> None:
    names = ["kine", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "extra"]
    groups = stop_groups(tuple(ProcessRecord(n, i, 0, "") for i, n in enumerate(names)))
    assert [[p.name for p in g] for g in groups] == [
        ["extra"], ["kube-controller-manager", "kube-scheduler", "kwok"], ["kube-apiserver"], ["kine"]]


def test_mounts_under_finds_only_mount_points_below_the_directory() -> None:
    mountinfo = ("36 25 0:32 / /c/a/node/kubelet rw - tmpfs tmpfs rw\n"
                 "37 25 0:33 / /c/ab rw - tmpfs tmpfs rw\n"
                 "38 25 0:34 / /c/a/with\\040space rw - tmpfs tmpfs rw\n")
    assert mounts_under(Path("/c/a"), mountinfo) == ["/c/a/node/kubelet", "/c/a/with space"]


def test_node_problems_need_ready_and_no_not_ready_taint() -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert node_problems(ready) == []
    tainted = {**ready, "spec": {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}}
    assert node_problems(tainted) == ["taint node.kubernetes.io/not-ready:NoSchedule"]
    assert node_problems({}) == ["Ready=missing"]


def test_names_and_directories() -> None:
    assert validate_name("drill-2") == "drill-2"
    for bad in ("", "Upper", "-lead", "trail-", "a_b", "x" * 33):
        try:
            validate_name(bad)
        except Exception as exc:
            assert repr(bad) in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
    assert cluster_dir(ClusterSpec("n"), {"K3S_DR_HOME": "/h"}) == Path("/h/clusters/n")
    assert cluster_dir(ClusterSpec("n", base_dir=Path("/elsewhere")), {}) == Path("/elsewhere")


def test_namespace_names_are_valid_for_any_test_name() -> None:
    name = namespace_name("test_thing[param-1 With_Caps]", "abc123")
    assert name == "test-thing-param-1-with-caps-abc123"
    assert len(namespace_name("x" * 200, "abc123")) <= 63
    assert namespace_name("___", "s") == "t-s"


@pytest.mark.parametrize("flag", ["watch-cache=false", "-v=2", "--", ""])
def test_extra_component_flags_must_be_long_flags(flag: str) -> None:
    assert validate_flags("kine", ("--compact-min-retain=0",)) == ("--compact-min-retain=0",)
    with pytest.raises(UsageError, match=re.escape(f"kine flag {flag!r} is not valid: accepted are --name")):
        validate_flags("kine", (flag,))
