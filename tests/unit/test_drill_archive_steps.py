"""Pure parts of a drill of a real archive: which of its objects a target cannot take, which of its
data can be restored and checked where, and the data checks read from the restore's data report."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dr_lib.archive.dataentry import DataEntry
from dr_lib.clock import utc_now
from dr_lib.drill.archive_data import data_results, data_scope, remove_placed
from dr_lib.drill.archive_steps import unservable
from dr_lib.drill.run import DrillRun, DrillSettings, RestoreRecord, command_env, drill_volume_roots
from dr_lib.drill.timeline import Timeline
from dr_lib.errors import OutsideRoots
from dr_lib.hooks.confine import locate, remove_volume
from dr_lib.kube.discovery import Discovery, parse_resource_list
from dr_lib.restore.plan import build_plan
from tests.unit.restore_helpers import FakeEntry

CONFIGMAPS = FakeEntry("", "v1", "configmaps", "ConfigMap", True)
NAMESPACES = FakeEntry("", "v1", "namespaces", "Namespace", False)
CRDS = FakeEntry("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False)
WIDGETS = FakeEntry("shop.test", "v1", "widgets", "Widget", True)

SERVED = Discovery(tuple(
    parse_resource_list("", "v1", {"resources": [{"name": "configmaps", "kind": "ConfigMap", "namespaced": True},
                                                 {"name": "namespaces", "kind": "Namespace", "namespaced": False}]})
    + parse_resource_list("apiextensions.k8s.io", "v1", {"resources": [
        {"name": "customresourcedefinitions", "kind": "CustomResourceDefinition", "namespaced": False}]})))


def _obj(entry: FakeEntry, name: str, namespace: str | None = "shop", **extra: Any) -> dict[str, Any]:
    api = entry.version if not entry.group else f"{entry.group}/{entry.version}"
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api, "kind": entry.kind, "metadata": meta, **extra}


def _crd() -> dict[str, Any]:
    return _obj(CRDS, "widgets.shop.test", None, spec={
        "group": "shop.test", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True}]})


def _archive(with_crd: bool) -> list[tuple[FakeEntry, dict[str, Any]]]:
    items = [(NAMESPACES, _obj(NAMESPACES, "shop", None)), (CONFIGMAPS, _obj(CONFIGMAPS, "settings")),
             (WIDGETS, _obj(WIDGETS, "blue")), (WIDGETS, _obj(WIDGETS, "red"))]
    return [(CRDS, _crd()), *items] if with_crd else items


def test_custom_resources_without_their_crd_are_named() -> None:
    plan = build_plan(iter(_archive(with_crd=False)))
    assert unservable(plan, SERVED) == ["Widget shop/blue", "Widget shop/red"]


def test_a_crd_in_the_archive_makes_its_resources_placeable() -> None:
    assert unservable(build_plan(iter(_archive(with_crd=True))), SERVED) == []


def _volume(path: str, tree: str = "t" * 64) -> DataEntry:
    return DataEntry(path, "volume", 10, "a" * 64, {"namespace": "shop", "node_path": "/srv/orders",
                                                     "tree_sha256": tree})


def _dump(path: str, pod: str) -> DataEntry:
    return DataEntry(path, "hook-dump", 10, "b" * 64, {"namespace": "shop", "pod": pod})


def test_each_data_member_is_checked_from_the_restores_report() -> None:
    members = [_volume("data/volumes/shop/orders.tar"), _volume("data/volumes/shop/lost.tar"),
               _dump("data/hooks/shop/db-0/dump.dump", "db-0"), _dump("data/hooks/shop/db-1/dump.dump", "db-1"),
               _dump("data/hooks/shop/db-2/dump.dump", "db-2")]
    report = {
        "volumes": [{"path": "data/volumes/shop/orders.tar", "action": "placed", "node_path": "/srv/orders",
                     "verified": True},
                    {"path": "data/volumes/shop/lost.tar", "action": "kept-existing", "node_path": "/srv/lost",
                     "verified": True}],  # its copy unpacked fine, but the data in place is not the archive's
        "hooks": [{"namespace": "shop", "pod": "db-0", "phase": "restore", "ok": True},
                  {"namespace": "shop", "pod": "db-0", "phase": "verify", "ok": True},
                  {"namespace": "shop", "pod": "db-1", "phase": "restore", "ok": False, "reason": "exit 1"}],
    }
    results = {r["member"]: r for r in data_results(members, report)}
    assert results["data/volumes/shop/orders.tar"]["ok"]
    assert "tree sha256 matches" in results["data/volumes/shop/orders.tar"]["detail"]
    assert not results["data/volumes/shop/lost.tar"]["ok"]
    assert results["data/volumes/shop/lost.tar"]["detail"] == "kept-existing at /srv/lost, tree sha256 not verified"
    assert results["data/hooks/shop/db-0/dump.dump"]["ok"]
    assert not results["data/hooks/shop/db-1/dump.dump"]["ok"] and "exit 1" in \
        results["data/hooks/shop/db-1/dump.dump"]["detail"]
    assert results["data/hooks/shop/db-2/dump.dump"] == {"member": "data/hooks/shop/db-2/dump.dump",
                                                         "kind": "hook-dump", "ok": False,
                                                         "detail": "no restore hook ran"}


def test_no_report_means_nothing_came_back() -> None:
    results = data_results([_volume("data/volumes/shop/orders.tar")], None)
    assert results == [{"member": "data/volumes/shop/orders.tar", "kind": "volume", "ok": False,
                        "detail": "not restored"}]


@pytest.mark.parametrize(("kinds", "real_pods", "local_disk", "checked", "why"), [
    ({}, True, True, set(), ["the archive holds no application data"]),
    ({"volume": 1}, True, True, {"volume"}, []),
    ({"volume": 1}, True, False, set(), ["1 volume copies: restore puts them on the disk of the machine it runs on"]),
    ({"hook-dump": 2}, True, False, {"hook-dump"}, []),
    ({"hook-dump": 2}, False, False, set(), ["2 dumps: every node of the target is simulated"]),
    ({"volume": 1, "hook-dump": 1}, False, True, {"volume"}, ["1 dumps: every node of the target is simulated"]),
])
def test_data_is_checked_where_the_restore_can_put_it(kinds: dict[str, int], real_pods: bool, local_disk: bool,
                                                      checked: set[str], why: list[str]) -> None:
    got, reasons = data_scope(Counter(kinds), real_pods=real_pods, local_disk=local_disk)
    assert got == checked
    assert len(reasons) == len(why) and all(r.startswith(w) for r, w in zip(reasons, why, strict=True)), reasons


def _placed(tmp_path: Path, roots: tuple[str, ...], node_path: str, *, archive: bool = True) -> DrillRun:
    settings = DrillSettings(volume_roots=roots, archive=tmp_path / "k3s-dr-x.tar.gz" if archive else None)
    run = DrillRun(settings, "ab12cd", tmp_path / "report", tmp_path / "work", Timeline(utc_now()), {})
    run.restore = RestoreRecord(result={"data": {"volumes": [{"action": "placed", "node_path": node_path}]}})
    return run


def test_the_drill_removes_a_volume_it_placed_only_below_the_volume_roots(tmp_path: Path) -> None:
    root, home = tmp_path / "storage", tmp_path / "home" / "x"
    (root / "pvc-1").mkdir(parents=True)
    (root / "pvc-1" / "f").write_text("restored")
    home.mkdir(parents=True)
    (home / ".ssh").mkdir()
    (root / "escape").symlink_to(home)  # a component that leads out of the root
    for hostile in (str(home / ".ssh"), f"{root}/escape/.ssh", f"{root}/../home/x/.ssh", str(root)):
        with pytest.raises(OutsideRoots, match="node path"):
            remove_placed(_placed(tmp_path, (str(root),), hostile))
    assert (home / ".ssh").is_dir()
    remove_placed(_placed(tmp_path, (str(root),), str(root / "pvc-1")))
    assert not (root / "pvc-1").exists() and (home / ".ssh").is_dir()


def test_the_drills_restore_and_its_cleanup_have_the_same_roots(tmp_path: Path) -> None:
    """One list: the roots the drill's restore may write below are the only ones its cleanup removes from."""
    from dr_lib.config import load_config  # noqa: PLC0415
    from dr_lib.hooks.settings import volume_roots  # noqa: PLC0415

    work = tmp_path / "work"
    roots = (str(tmp_path / "storage"), str(tmp_path / "other storage"))
    archive = DrillSettings(volume_roots=roots, archive=tmp_path / "a.tar.gz")
    synthetic = DrillSettings(volume_roots=roots)
    assert drill_volume_roots(archive, work) == roots
    assert drill_volume_roots(synthetic, work) == (str(work / "volumes"),)
    for settings in (archive, synthetic):
        restore = load_config("/dev/null", env=command_env(settings, work, base={})).data
        assert volume_roots(restore) == drill_volume_roots(settings, work)


def test_a_synthetic_drill_removes_nothing_below_the_operators_roots(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    (root / "pvc-1").mkdir(parents=True)
    with pytest.raises(OutsideRoots, match="outside the storage roots"):
        remove_placed(_placed(tmp_path, (str(root),), str(root / "pvc-1"), archive=False))
    assert (root / "pvc-1").is_dir()


def test_a_link_planted_after_the_check_is_not_followed_by_the_cleanup(tmp_path: Path) -> None:
    root, home = tmp_path / "storage", tmp_path / "home"
    (root / "ns" / "pvc-1").mkdir(parents=True)
    (home / "pvc-1").mkdir(parents=True)
    (home / "pvc-1" / "keep").write_text("the operator's")
    target = locate(str(root / "ns" / "pvc-1"), (str(root),))
    shutil.rmtree(root / "ns")
    (root / "ns").symlink_to(home)  # swapped in between the check and the removal
    with pytest.raises(OutsideRoots, match="symbolic link"):
        remove_volume(target)
    assert (home / "pvc-1" / "keep").read_text() == "the operator's"
    (root / "ns").unlink()
    remove_volume(target)  # gone already: nothing to remove
