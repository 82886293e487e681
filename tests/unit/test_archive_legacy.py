"""The seed's archives (k3s-cluster-backup-N.tar.gz: kubectl's YAML lists, tar czf) read into the object
stream, and every way such a file can hurt refused (pure: archives built here; real kubectl output is read
in tests/integration/test_legacy_archives.py)."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from dr_lib.archive.legacy import MAX_MEMBERS, is_legacy_archive, is_legacy_name, iter_legacy_objects, read_legacy
from dr_lib.archive.yamlsafe import MAX_DEPTH, load_documents
from dr_lib.errors import IntegrityError
from dr_lib.restore.plan import build_plan
from dr_lib.restore.plan.builtin import by_kind

# What `kubectl get configmaps -A -o yaml` prints (v1.37), trimmed to two objects.
CONFIGMAPS = """\
apiVersion: v1
items:
- apiVersion: v1
  data:
    LOG_LEVEL: info
    enabled: "yes"
    started: "2025-11-16"
  kind: ConfigMap
  metadata:
    creationTimestamp: "2025-11-16T10:05:03Z"
    labels:
      app: shop
    name: web-config
    namespace: shop
    resourceVersion: "1234"
    uid: 6a1c1f2e-0d4b-4c39-9a43-6f0e3c2b9a11
- apiVersion: v1
  data:
    ca.crt: |
      -----BEGIN CERTIFICATE-----
      MIIB
      -----END CERTIFICATE-----
  kind: ConfigMap
  metadata:
    creationTimestamp: "2025-11-16T09:00:00Z"
    name: kube-root-ca.crt
    namespace: shop
    resourceVersion: "99"
    uid: 0b6f3c1e-1111-4c39-9a43-6f0e3c2b9a11
kind: List
metadata:
  resourceVersion: ""
"""
NAMESPACES = """\
apiVersion: v1
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: shop
    uid: 1b6f3c1e-1111-4c39-9a43-6f0e3c2b9a11
  spec:
    finalizers:
    - kubernetes
  status:
    phase: Active
- apiVersion: v1
  kind: Namespace
  metadata:
    name: kube-system
  status:
    phase: Active
kind: List
metadata:
  resourceVersion: ""
"""
CRDS = """\
apiVersion: v1
items:
- apiVersion: apiextensions.k8s.io/v1
  kind: CustomResourceDefinition
  metadata:
    name: widgets.example.com
  spec:
    group: example.com
    names: {kind: Widget, plural: widgets}
    scope: Namespaced
    versions: [{name: v1, served: true, storage: true}]
kind: List
metadata:
  resourceVersion: ""
"""
WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\nspec: {size: 3}\n"
EMPTY_LIST = 'apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: ""\n'


def _tar(members: list[tuple[str, bytes | None, bytes]]) -> bytes:
    """(name, content or None for a directory, tar type) → tar.gz bytes, as `tar czf` writes them."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, content, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/shadow"
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return gzip.compress(raw.getvalue())


def seed_archive(directory: Path, files: dict[str, str], name: str = "k3s-cluster-backup-1.tar.gz",
                 extra: list[tuple[str, bytes | None, bytes]] | None = None) -> Path:
    members: list[tuple[str, bytes | None, bytes]] = [("k3s-cluster-state/", None, tarfile.DIRTYPE)]
    members += [(f"k3s-cluster-state/{n}", text.encode(), tarfile.REGTYPE) for n, text in files.items()]
    path = directory / name
    path.write_bytes(_tar(members + (extra or [])))
    return path


def test_names_like_the_seeds_are_legacy_ours_never(tmp_path: Path) -> None:
    assert is_legacy_name("k3s-cluster-backup-1.tar.gz") and is_legacy_name("k3s-cluster-backup-2.tar.gz")
    for name in ("k3s-dr-20261204T120000Z.tar.gz", "latest-backup.tar.gz", "k3s-cluster-backup-.tar.gz",
                 "k3s-cluster-backup-1.tar.gz.bak", "x-k3s-cluster-backup-1.tar.gz"):
        assert not is_legacy_name(name), name
    archive = seed_archive(tmp_path, {"configmaps.yaml": CONFIGMAPS})
    (tmp_path / "latest-backup.tar.gz").symlink_to(archive)
    assert is_legacy_archive(tmp_path / "latest-backup.tar.gz")  # the seed's own link names it


def test_kubectl_lists_become_typed_objects_with_counts(tmp_path: Path) -> None:
    archive = seed_archive(tmp_path, {"namespaces.yaml": NAMESPACES, "configmaps.yaml": CONFIGMAPS,
                                      "ingresses.yaml": EMPTY_LIST, "customresourcedefinitions.yaml": CRDS,
                                      "widgets.yaml": WIDGET}, extra=[("k3s-cluster-state/README.txt", b"hi",
                                                                       tarfile.REGTYPE)])
    legacy = read_legacy(archive, by_kind)
    verified = legacy.verified
    assert {e.resource: e.objects for e in verified.manifest.files} == {
        "configmaps": 2, "namespaces": 2, "customresourcedefinitions.apiextensions.k8s.io": 1,
        "widgets.example.com": 1}
    assert verified.objects == 6
    # user objects by the shared rules: not kube-system, not kube-root-ca.crt
    assert verified.user_objects == 4
    assert verified.bytes == archive.stat().st_size and len(verified.sha256) == 64
    assert legacy.skipped == ("k3s-cluster-state/README.txt",)
    data = next(obj for t, obj in legacy.objects if t.kind == "ConfigMap")["data"]
    assert data == {"LOG_LEVEL": "info", "enabled": "yes", "started": "2025-11-16"}  # strings stay strings
    widget_type = next(t for t, _obj in legacy.objects if t.kind == "Widget")
    assert (widget_type.group, widget_type.plural, widget_type.namespaced) == ("example.com", "widgets", True)


def test_the_planner_takes_the_same_stream(tmp_path: Path) -> None:
    archive = seed_archive(tmp_path, {"namespaces.yaml": NAMESPACES, "configmaps.yaml": CONFIGMAPS})
    legacy = read_legacy(archive, by_kind)
    plan = build_plan(iter_legacy_objects(legacy))
    planned = {(o.type.resource, o.namespace, o.name) for o in plan.objects()}
    # kube-root-ca.crt is never restored; namespaces are planned as in our archives (existing ones stay unchanged)
    assert planned == {("namespaces", "", "shop"), ("namespaces", "", "kube-system"),
                       ("configmaps", "shop", "web-config")}
    assert any("kube-root-ca.crt" in o.key.name for o in plan.left_out)
    cm = next(o.body for o in plan.objects() if o.name == "web-config")
    assert "uid" not in cm["metadata"] and "resourceVersion" not in cm["metadata"]  # sanitized like ours
    again = build_plan(iter_legacy_objects(legacy))  # the planner edits its copies, never the archive's objects
    assert again.count == plan.count


def _refused(tmp_path: Path, files: dict[str, str], match: str,
             extra: list[tuple[str, bytes | None, bytes]] | None = None) -> None:
    archive = seed_archive(tmp_path, files, extra=extra)
    with pytest.raises(IntegrityError, match=match) as caught:
        read_legacy(archive, by_kind)
    assert str(archive) in caught.value.message


BILLION_LAUGHS = "\n".join(
    ["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)])


@pytest.mark.parametrize(("files", "extra", "match"), [
    ({"configmaps.yaml": BILLION_LAUGHS}, None, "anchors and aliases are refused"),
    ({"configmaps.yaml": "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)}, None, "nested deeper than 100"),
    ({"configmaps.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: !!binary aGk=\n"}, None,
     "YAML tag"),
    ({"configmaps.yaml": "!!python/object/apply:os.system ['id']\n"}, None, "YAML tag"),
    ({"configmaps.yaml": "items: [\n"}, None, "not valid YAML at line 2"),
    ({}, [("k3s-cluster-state/configmaps.yaml", b"a: \xff\xfe\n", tarfile.REGTYPE)], "not UTF-8 text"),
    ({"configmaps.yaml": "- just\n- a list\n"}, None, "holds a list, not a kubectl list"),
    ({"configmaps.yaml": "apiVersion: v1\nkind: List\nitems: {a: 1}\n"}, None, "items are not a list"),
    ({"configmaps.yaml": "apiVersion: v1\nkind: List\nitems: [{kind: ConfigMap}]\n"}, None, "no apiVersion"),
    ({"configmaps.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"}, None, "no metadata.name"),
    ({"x.yaml": "apiVersion: evil.io/v1\nkind: Rootkit\nmetadata: {name: x}\n"}, None,
     "neither built in nor defined by the archive's CRDs: 1 × evil.io/v1 Rootkit"),
    ({}, [("k3s-cluster-state/secrets.yaml", b"", tarfile.SYMTYPE)], "is a symbolic link"),
    ({}, [("k3s-cluster-state/secrets.yaml", b"", tarfile.LNKTYPE)], "is a hard link"),
    ({}, [("/etc/cron.d/evil.yaml", b"a: 1\n", tarfile.REGTYPE)], "absolute or non-POSIX path"),
    ({}, [("k3s-cluster-state/../../evil.yaml", b"a: 1\n", tarfile.REGTYPE)], "'..'"),
    ({}, [("k3s-cluster-state/fifo", b"", tarfile.FIFOTYPE)], "device or FIFO"),
])
def test_hostile_archives_are_refused_with_the_reason(tmp_path: Path, files: dict[str, str],
                                                      extra: list[tuple[str, bytes | None, bytes]] | None,
                                                      match: str) -> None:
    _refused(tmp_path, files, match, extra)


def test_the_billion_laughs_costs_nothing(tmp_path: Path) -> None:
    """Refused from the events alone: 9**9 strings would be built by a loader that followed the aliases."""
    with pytest.raises(IntegrityError, match="anchors and aliases"):
        load_documents(BILLION_LAUGHS.encode(), "laughs.yaml")


def test_too_many_members_and_a_gzip_bomb_are_refused(tmp_path: Path) -> None:
    many = [(f"k3s-cluster-state/{i}.txt", b"", tarfile.REGTYPE) for i in range(MAX_MEMBERS + 1)]
    _refused(tmp_path, {}, f"more than {MAX_MEMBERS} members", many)
    bomb = [("k3s-cluster-state/zeros.txt", b"\0" * (40 * 1024 * 1024), tarfile.REGTYPE)]
    _refused(tmp_path, {}, "likely gzip bomb", bomb)


def test_a_truncated_or_foreign_file_is_refused(tmp_path: Path) -> None:
    archive = seed_archive(tmp_path, {"configmaps.yaml": CONFIGMAPS * 50})
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(IntegrityError, match=r"legacy archive .*(ends|not a readable tar\.gz)"):
        read_legacy(archive, by_kind)
    archive.write_bytes(b"not a gzip file at all")
    with pytest.raises(IntegrityError, match=r"not a readable tar\.gz"):
        read_legacy(archive, by_kind)
