"""The supported Kubernetes releases (pure): the table, what users may type, the Go module shipped
per release, the flags that differ by release, resuming on the recorded release."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dr_lib.drill.run import DrillSettings
from dr_lib.errors import UsageError
from k3s_dr_testbed.clusters import versions
from k3s_dr_testbed.clusters.gomodule import MAIN_GO, SOURCE_ROOT, module_problems, staging_modules, staging_tag
from k3s_dr_testbed.clusters.local import resume_version
from k3s_dr_testbed.clusters.state import ClusterState
from k3s_dr_testbed.clusters.versionflags import (
    APISERVER,
    CONTROLLER_MANAGER,
    FLAGS,
    VersionFlag,
    flags_for,
    minor_of,
)

SUPPORTED = versions.supported()


def test_the_table_lists_the_supported_minors_oldest_first_newest_is_the_default() -> None:
    assert [r.minor for r in SUPPORTED] == ["1.35", "1.36", "1.37"]
    assert [r.kubernetes for r in SUPPORTED] == ["v1.35.4", "v1.36.3", "v1.37.2"]
    assert versions.newest() == SUPPORTED[-1] == versions.resolve(None)
    assert versions.oldest() == SUPPORTED[0]
    assert versions.tested() == (versions.oldest(), versions.newest())
    for release in SUPPORTED:
        assert release.k3s_image.startswith(f"rancher/k3s:v{release.minor}.") and release.note


@pytest.mark.parametrize(("request_text", "tag"), [
    ("1.35", "v1.35.4"), ("1.35.4", "v1.35.4"), ("v1.35.4", "v1.35.4"), (" 1.36 ", "v1.36.3"),
    ("newest", "v1.37.2"), ("oldest", "v1.35.4"), ("v1.37", "v1.37.2"),
])
def test_a_minor_an_exact_patch_or_a_name_resolves(request_text: str, tag: str) -> None:
    assert versions.resolve(request_text).kubernetes == tag


@pytest.mark.parametrize("hostile", [
    "1.34", "1.35.3", "1.38", "v1.37.2.1", "", " ", "latest", "1.37; rm -rf /", "../1.37", "1.37\x00", "１.37",
    "1." + "3" * 5000, "v1.37.2-rc.0", "1.37.2+k3s1",
])
def test_anything_else_is_refused_with_the_accepted_list(hostile: str) -> None:
    with pytest.raises(UsageError) as refused:
        versions.resolve(hostile)
    message = refused.value.message
    assert message.startswith(f"Kubernetes version {hostile!r} is not supported: accepted is ")
    assert message.endswith("1.35 (v1.35.4), 1.36 (v1.36.3), 1.37 (v1.37.2), newest, oldest")


@pytest.mark.parametrize(("text", "problem"), [
    ('{"releases": []}', "no releases"),
    ('{"releases": [{"minor": "1.35", "kubernetes": "v1.36.1", "k3s_image": "rancher/k3s:v1.35.1-k3s1"}]}',
     "does not match"),
    ('{"releases": [{"minor": "1.35", "kubernetes": "v1.35.1", "k3s_image": "evil.example/k3s:v1.35.1-k3s1"}]}',
     "rancher/k3s"),
    ('{"releases": [{"minor": "1.35", "kubernetes": "v1.35.1", "k3s_image": "rancher/k3s:v1.35.1-k3s1"},'
     ' {"minor": "1.35", "kubernetes": "v1.35.2", "k3s_image": "rancher/k3s:v1.35.2-k3s1"}]}', "listed twice"),
    ('{"releases": [{"minor": 135}]}', "needs the strings"),
])
def test_a_malformed_table_is_refused(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        versions.parse_table(text)


def test_the_shipped_table_is_what_parse_table_reads() -> None:
    data = json.loads(versions.TABLE.read_text())
    assert len(data["releases"]) == len(SUPPORTED)


def test_release_of_a_server_version() -> None:
    assert versions.release_of("v1.36.3") == SUPPORTED[1]
    assert versions.release_of("v1.36.2") is None
    assert versions.release_of("v1.34.2") is None


# --- the Go module per release ---------------------------------------------------------------

KUBERNETES_GOMOD = """module k8s.io/kubernetes

require (
\tk8s.io/api v0.0.0
\tk8s.io/streaming v0.0.0
\tk8s.io/klog/v2 v2.130.1
)
require (
\tk8s.io/cri-streaming v0.0.0 // indirect
)
"""


def test_staging_modules_are_read_from_kubernetes_own_go_mod() -> None:
    assert staging_modules(KUBERNETES_GOMOD) == ["k8s.io/api", "k8s.io/streaming"]
    assert staging_tag("v1.37.2") == "v0.37.2"


@pytest.mark.parametrize("release", SUPPORTED, ids=lambda r: r.minor)
def test_each_release_ships_a_go_module_pinned_to_it(release: versions.Release) -> None:
    gomod = (SOURCE_ROOT / release.kubernetes / "go.mod").read_text()
    assert module_problems(gomod, release) == []
    replaced = re.findall(r"^replace (k8s\.io/\S+) => \S+ (\S+)$", gomod, re.MULTILINE)
    assert len(replaced) >= 29 and {tag for _m, tag in replaced} == {staging_tag(release.kubernetes)}
    # Every k8s.io module the build resolves at v0.0.0 (a staging module) is replaced.
    assert set(re.findall(r"^\t(k8s\.io/[a-z0-9-]+) v0\.0\.0(?: |$)", gomod, re.MULTILINE)) <= {m for m, _t in replaced}
    gosum = (SOURCE_ROOT / release.kubernetes / "go.sum").read_text()
    assert f"k8s.io/kubernetes {release.kubernetes} h1:" in gosum
    assert (SOURCE_ROOT / MAIN_GO).is_file()


def test_the_1_36_staging_modules_are_there_from_1_36_on() -> None:
    for release in SUPPORTED:
        gomod = (SOURCE_ROOT / release.kubernetes / "go.mod").read_text()
        has_streaming = "replace k8s.io/cri-streaming =>" in gomod and "replace k8s.io/streaming =>" in gomod
        assert has_streaming == (release.minor_number >= 36), release.minor


def test_module_problems_names_what_is_wrong() -> None:
    release = versions.resolve("1.37")
    wrong = ("module github.com/k3s-dr/k3s-dr/tools/control-plane\nrequire k8s.io/kubernetes v1.36.3\n"
             "replace k8s.io/api => k8s.io/api v0.36.3\n")
    problems = module_problems(wrong, release, ["k8s.io/api", "k8s.io/streaming"])
    assert any("not v1.37.2" in p for p in problems)
    assert any("k8s.io/api with something other than itself at v0.37.2" in p for p in problems)
    assert any("does not replace the staging modules k8s.io/streaming" in p for p in problems)


# --- flags that differ by release ------------------------------------------------------------

def test_every_row_has_a_reason_and_a_range() -> None:
    for row in FLAGS:
        assert len(row.why) > 30 and row.flag.startswith("--")
        assert row.first_minor is not None or row.last_minor is not None


@pytest.mark.parametrize("release", SUPPORTED, ids=lambda r: r.minor)
def test_each_release_gets_one_controllers_flag_and_no_flag_twice(release: versions.Release) -> None:
    assert len(flags_for(CONTROLLER_MANAGER, release.kubernetes)) == 1
    for component in {row.component for row in FLAGS}:
        names = [flag.partition("=")[0] for flag in flags_for(component, release.kubernetes)]
        assert len(names) == len(set(names)), (component, names)


def test_the_1_37_changes() -> None:
    assert flags_for(APISERVER, "v1.37.2") == ["--endpoint-reconciler-type=none"]
    assert flags_for(APISERVER, "v1.36.3") == flags_for(APISERVER, "v1.35.4") == []
    assert flags_for(CONTROLLER_MANAGER, "v1.37.2") == ["--controllers=*,-nodeipam"]
    assert flags_for(CONTROLLER_MANAGER, "v1.36.3") == ["--controllers=*,-nodeipam,-cloud-node-lifecycle"]
    future = (VersionFlag("kubelet", "--x=1", 38, None, "a later release's change, for the test only"),)
    assert flags_for("kubelet", "v1.37.2", future) == [] and flags_for("kubelet", "v1.38.0", future) == ["--x=1"]
    assert minor_of("v1.37.2") == minor_of("1.37") == 37
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        minor_of("v0.0.0-master+$Format:%H$")


# --- resuming a stopped cluster --------------------------------------------------------------

def _state(recorded: str) -> ClusterState:
    return ClusterState(name="keeper", dir="/x/keeper", status="stopped", nodes=1, real_node=False,
                        versions={"kubernetes": recorded} if recorded else {})


def test_a_new_cluster_gets_what_was_asked_a_stopped_one_its_own_release() -> None:
    assert resume_version(None, "1.35") == "1.35"
    assert resume_version(None, None) is None
    assert resume_version(_state(""), "oldest") == "oldest"  # never booted: nothing recorded yet
    assert resume_version(_state("v1.35.4"), None) == "v1.35.4"
    assert resume_version(_state("v1.35.4"), "1.35") == "v1.35.4"


def test_resuming_on_another_or_an_unsupported_release_is_refused() -> None:
    with pytest.raises(UsageError, match=r"created with Kubernetes v1\.35\.4; resuming it with v1\.37\.2"):
        resume_version(_state("v1.35.4"), "newest")
    with pytest.raises(UsageError, match=r"created with Kubernetes v1\.34\.2, which is no longer supported"):
        resume_version(_state("v1.34.2"), None)


# --- the drill's setting ---------------------------------------------------------------------

def test_a_drill_checks_the_release_before_it_runs(tmp_path: Path) -> None:
    assert DrillSettings(kubernetes_version="oldest").check().kubernetes_version == "oldest"
    with pytest.raises(UsageError, match=r"'1\.30' is not supported"):
        DrillSettings(kubernetes_version="1.30").check()
    with pytest.raises(UsageError, match="not with an existing cluster"):
        DrillSettings(provider="kubeconfig", destroy="wipe", kubeconfig=tmp_path / "kc",
                      kubernetes_version="1.35").check()


def test_the_reference_hosts_stand_in_runs_the_release_flags_too() -> None:
    from k3s_dr_testbed.lab.standin import run_script  # noqa: PLC0415 - the lab's stand-in, this test only

    newest, oldest = run_script("v1.37.2"), run_script("v1.35.4")
    assert "--kubelet-preferred-address-types=Hostname --endpoint-reconciler-type=none\n" in newest
    assert "--kubelet-preferred-address-types=Hostname\n" in oldest and "@" not in oldest + newest
