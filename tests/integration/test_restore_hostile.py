"""Hostile and corrupt archives: each refused with a clear message, and 0 objects applied.

Every archive carries a marker (namespace ``hostile-<n>`` with a ConfigMap) next to its
defect; after the refused run the API server is asked whether the marker exists and whether
anything else appeared: nothing may have been applied.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from restore_cli import run_inprocess, write_config

from dr_lib.archive import format as fmt
from dr_lib.errors import ExitCode
from dr_lib.kube.client import Kube

pytestmark = pytest.mark.slow


def _document(obj: Any) -> bytes:
    return b"---\n" + json.dumps(obj).encode() + b"\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(group: str, version: str, plural: str, kind: str, namespaced: bool, data: bytes,
           objects: int) -> dict[str, Any]:
    return {"path": fmt.resource_member(group, plural), "group": group, "version": version, "plural": plural,
            "kind": kind, "namespaced": namespaced, "objects": objects, "bytes": len(data), "sha256": _sha(data)}


class Build:
    """A valid archive (marker namespace + ConfigMap) that a case then spoils."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        ns = _document({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": marker}})
        cm = _document({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": marker},
                        "data": {"k": "v"}})
        self.files = [_entry("", "v1", "namespaces", "Namespace", False, ns, 1),
                      _entry("", "v1", "configmaps", "ConfigMap", True, cm, 1)]
        self.members: list[tuple[tarfile.TarInfo, bytes]] = [
            (self._info(self.files[0]["path"], ns), ns), (self._info(self.files[1]["path"], cm), cm)]
        self.manifest: dict[str, Any] = {
            "format": fmt.FORMAT_NAME, "format_version": 1, "tool_version": "test", "created": "2026-11-28T10:00:00Z",
            "cluster": {"server": "https://x", "kubernetes_version": "v1.34.2", "kube_system_uid": "u"},
            "files": self.files, "datastore": None, "scope": {}}

    @staticmethod
    def _info(name: str, data: bytes, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        info.type = kind
        info.linkname = link
        return info

    def add_file(self, entry: dict[str, Any], data: bytes) -> None:
        self.files.append(entry)
        self.members.append((self._info(entry["path"], data), data))

    def insert_member(self, info: tarfile.TarInfo, data: bytes = b"") -> None:
        self.members.insert(1, (info, data))

    def write(self, path: Path, *, cut: int | None = None) -> Path:
        self.manifest.setdefault("objects", sum(f["objects"] for f in self.files))
        manifest = json.dumps(self.manifest).encode()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
            tar.addfile(self._info(fmt.MANIFEST_MEMBER, manifest), io.BytesIO(manifest))
            for info, data in self.members:
                tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
        packed = gzip.compress(buffer.getvalue())
        path.write_bytes(packed[:cut] if cut else packed)
        return path


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def gzip_bomb(path: Path, marker: str) -> Path:
    """150 MB of zeros in ~150 KB: the reader must stop at its ratio limit, not inflate it all."""
    size = 150 * 1024 * 1024
    entry = _entry("", "v1", "configmaps", "ConfigMap", True, b"", 1) | {"bytes": size}
    manifest = json.dumps(Build(marker).manifest | {"files": [entry], "objects": 1}).encode()
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(fmt.MANIFEST_MEMBER)
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        info = tarfile.TarInfo(entry["path"])
        info.size = size
        tar.addfile(info, io.BufferedReader(_Zeros(size)))
    return path


YAML_BOMB = b"""---
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
"""


def _spoil_member(change: Callable[[Build], None]) -> Callable[[Path, str], Path]:
    def make(path: Path, marker: str) -> Path:
        build = Build(marker)
        change(build)
        return build.write(path)
    return make


def _link(kind: bytes, target: str) -> Callable[[Build], None]:
    return lambda b: b.insert_member(Build._info("resources/link.yaml", b"", kind, target))


def _flip_byte(b: Build) -> None:
    info, data = b.members[1]
    b.members[1] = (info, data.replace(b'"v"', b'"w"'))


def _unknown_kind(b: Build) -> None:
    data = _document({"apiVersion": "gadgets.example.io/v1", "kind": "Gadget",
                      "metadata": {"name": "g", "namespace": b.marker}})
    b.add_file(_entry("gadgets.example.io", "v1", "gadgets", "Gadget", True, data, 1), data)


def _disguised(b: Build) -> None:
    data = _document({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                      "metadata": {"name": "pwn", "namespace": b.marker},
                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "cluster-admin"},
                      "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": b.marker}]})
    b.add_file(_entry("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", True, data, 1),
               data)


def _smuggled(b: Build) -> None:
    data = _document({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": b.marker}}) + \
        _document({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "pwn"}})
    b.files[1] = _entry("", "v1", "configmaps", "ConfigMap", True, data, 2)
    b.members[1] = (Build._info(b.files[1]["path"], data), data)


def _namespace_traversal(b: Build) -> None:
    data = _document({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "x", "namespace": "../kube-system"}})
    b.files[1] = _entry("", "v1", "configmaps", "ConfigMap", True, data, 1)
    b.members[1] = (Build._info(b.files[1]["path"], data), data)


def _yaml_bomb(b: Build) -> None:
    b.files[1] = _entry("", "v1", "configmaps", "ConfigMap", True, YAML_BOMB, 1)
    b.members[1] = (Build._info(b.files[1]["path"], YAML_BOMB), YAML_BOMB)


def _truncated(path: Path, marker: str) -> Path:
    full = Build(marker).write(path)
    return Build(marker).write(path, cut=full.stat().st_size // 2)


# (case, builder, expected exit code, fragment of the message)
CASES: list[tuple[str, Callable[[Path, str], Path], int, str]] = [
    ("path traversal", _spoil_member(lambda b: b.insert_member(Build._info("../evil.yaml", b"x"), b"x")),
     ExitCode.INTEGRITY, "'..'"),
    ("absolute path", _spoil_member(lambda b: b.insert_member(Build._info("/etc/evil.yaml", b"x"), b"x")),
     ExitCode.INTEGRITY, "absolute"),
    ("symbolic link", _spoil_member(_link(tarfile.SYMTYPE, "/etc/shadow")), ExitCode.INTEGRITY, "symbolic link"),
    ("hard link", _spoil_member(_link(tarfile.LNKTYPE, "manifest.json")), ExitCode.INTEGRITY, "hard link"),
    ("device file", _spoil_member(lambda b: b.insert_member(Build._info("resources/dev.yaml", b"", tarfile.CHRTYPE))),
     ExitCode.INTEGRITY, "device"),
    ("gzip bomb", gzip_bomb, ExitCode.INTEGRITY, "gzip bomb"),
    ("truncated", _truncated, ExitCode.INTEGRITY, "archive"),
    ("bad checksum", _spoil_member(_flip_byte), ExitCode.INTEGRITY, "sha256"),
    ("unknown format version", _spoil_member(lambda b: b.manifest.update(format_version=99)),
     ExitCode.INTEGRITY, "format_version is 99"),
    ("manifest lies about counts", _spoil_member(lambda b: b.files[1].update(objects=5)),
     ExitCode.INTEGRITY, "objects"),
    ("YAML bomb", _spoil_member(_yaml_bomb), ExitCode.INTEGRITY, "does not parse"),
    ("unknown kind", _spoil_member(_unknown_kind), ExitCode.INTEGRITY, "does not serve"),
    ("cluster-scoped kind disguised as namespaced", _spoil_member(_disguised), ExitCode.INTEGRITY,
     "cluster-scoped"),
    ("kind smuggled into another file", _spoil_member(_smuggled), ExitCode.INTEGRITY, "ClusterRoleBinding"),
    ("namespace path traversal", _spoil_member(_namespace_traversal), ExitCode.INTEGRITY, "namespace"),
]


def _cluster_fingerprint(kube: Kube) -> tuple[int, int, int]:
    namespaces = len(kube.get("/api/v1/namespaces")["items"])
    configmaps = len(kube.get("/api/v1/configmaps")["items"])
    bindings = len(kube.get("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")["items"])
    return namespaces, configmaps, bindings


@pytest.mark.parametrize(("build", "code", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_archive_is_refused_and_nothing_applied(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        cluster: Any, kube: Kube, build: Callable[[Path, str], Path],
                                                        code: int, message: str) -> None:
    marker = f"hostile-{abs(hash(tmp_path.name)) % 10**8}"
    archive = build(tmp_path / "k3s-dr-20261128T100000Z.tar.gz", marker)
    config = write_config(tmp_path / "cfg")
    before = _cluster_fingerprint(kube)
    run = run_inprocess(capsys, config, "restore", str(archive), "--kubeconfig", str(cluster.kubeconfig), "--json")
    assert run.code == code, run.stderr
    assert message in run.stderr
    assert "k3s-dr: error:" in run.stderr and "Traceback" not in run.stderr
    assert run.stdout.strip() == ""  # no result object: nothing ran
    assert kube.request("GET", f"/api/v1/namespaces/{marker}").status == 404
    assert kube.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/pwn").status == 404
    assert _cluster_fingerprint(kube) == before
    assert not (tmp_path / "cfg" / "state" / "ledgers").exists()


def test_the_unspoiled_build_restores(tmp_path: Path, capsys: pytest.CaptureFixture[str], cluster: Any,
                                      kube: Kube) -> None:
    """The baseline the hostile cases spoil is itself accepted: the refusals come from the defects."""
    marker = f"hostile-ok-{abs(hash(tmp_path.name)) % 10**6}"
    archive = Build(marker).write(tmp_path / "k3s-dr-20261128T100000Z.tar.gz")
    run = run_inprocess(capsys, write_config(tmp_path / "cfg"), "restore", str(archive), "--kubeconfig",
                        str(cluster.kubeconfig), "--json")
    try:
        assert run.code == 0, run.stderr
        assert run.json()["counts"]["created"] == 2
        assert kube.request("GET", f"/api/v1/namespaces/{marker}/configmaps/m").ok
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{marker}")
