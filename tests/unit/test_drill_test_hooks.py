"""The two small hooks the drill added to other areas: the TEST-ONLY sanitizer switch the broken
drill uses (a hidden flag of the restore the drill runs, never an environment variable), and the k3s
image the CI matrix picks for the k3d provider."""

from __future__ import annotations

import pytest

from dr_lib.cli.main import main
from dr_lib.drill.run import DrillSettings
from dr_lib.errors import ExitCode, UsageError
from dr_lib.jobs.restore_options import PlanFilters, sabotaged_sanitizers
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


def test_the_environment_reaches_no_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K3S_DR_TEST_DISABLE_SANITIZER", "persistentvolumes")  # the old switch: read by nothing now
    assert PlanFilters().plan_options().disabled_sanitizers == frozenset()
    assert PlanFilters().plan_options(frozenset({"services"})).disabled_sanitizers == {"services"}


def test_the_hidden_flag_is_refused_where_a_production_restore_runs() -> None:
    assert sabotaged_sanitizers(("persistentvolumes", " Services "), auto=False, datastore=False) == {
        "persistentvolumes", "services"}
    for auto, datastore in ((True, False), (False, True)):
        with pytest.raises(UsageError, match="test-only switch of a drill's restore: accepted only without --auto"):
            sabotaged_sanitizers(("persistentvolumes",), auto=auto, datastore=datastore)
    with pytest.raises(UsageError, match=r"'pv/\.\./x' is not a resource"):
        sabotaged_sanitizers(("pv/../x",), auto=False, datastore=False)


@pytest.mark.parametrize("mode", ["--auto", "--datastore"])
def test_restore_auto_refuses_it_before_doing_anything(mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "/dev/null", "restore", mode, "--test-disable-sanitizer", "persistentvolumes"]) \
        == ExitCode.USAGE
    assert "--test-disable-sanitizer is a test-only switch" in capsys.readouterr().err
    assert main(["restore", "--help"]) == ExitCode.OK
    assert "test-disable-sanitizer" not in capsys.readouterr().out  # hidden from operators


def test_the_drill_passes_it_to_its_restores_and_records_it() -> None:
    assert DrillSettings().test_options() == {} and DrillSettings().restore_test_flags() == []
    broken = DrillSettings(test_disable_sanitizers=("persistentvolumes",))
    assert broken.test_options() == {"test_disable_sanitizer": "persistentvolumes"}
    assert broken.restore_test_flags() == ["--test-disable-sanitizer", "persistentvolumes"]


def test_k3d_image_from_the_ci_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(k3d.K3S_IMAGE_ENV, raising=False)
    assert k3d.k3s_image() == k3d.K3S_IMAGE
    monkeypatch.setenv(k3d.K3S_IMAGE_ENV, "rancher/k3s:v1.36.5-k3s1")
    assert k3d.k3s_image() == "rancher/k3s:v1.36.5-k3s1"
