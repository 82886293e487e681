"""The binaries cache (pure parts): keys, version stamping, build-info matching, stamps."""

import json
import re
from pathlib import Path

import pytest

from dr_lib.errors import EnvironmentProblem, UsageError
from k3s_dr_testbed.clusters import binaries as b
from k3s_dr_testbed.clusters import versions
from k3s_dr_testbed.clusters.build import _source_copy, matches_pin
from k3s_dr_testbed.clusters.goinfo import GoBuildInfo, parse_build_info


def test_ldflags_stamp_every_version_variable() -> None:
    flags = b.ldflags("v1.34.2")
    assert "-X k8s.io/component-base/version.gitVersion=v1.34.2" in flags
    assert "-X k8s.io/component-base/version.gitMajor=1" in flags
    assert "-X k8s.io/component-base/version.gitMinor=34" in flags
    assert "-X k8s.io/component-base/version.gitTreeState=clean" in flags
    assert "-X k8s.io/client-go/pkg/version.gitVersion=v1.34.2" in flags
    assert flags.startswith("-s -w")


NEWEST = versions.newest().kubernetes
OLDEST = versions.oldest().kubernetes


def _src(tmp_path: Path, main: str = "package main", releases: tuple[str, ...] = (NEWEST, OLDEST)) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "main.go").write_text(main)
    for tag in releases:
        (tmp_path / tag).mkdir()
        (tmp_path / tag / "go.mod").write_text(f"module x // {tag}")
        (tmp_path / tag / "go.sum").write_text("")
    return tmp_path


def test_cache_key_changes_with_versions_and_sources(tmp_path: Path) -> None:
    one = b.source_hash(_src(tmp_path / "a"), NEWEST)
    two = b.source_hash(_src(tmp_path / "b", "package main // x"), NEWEST)
    assert one != two
    assert b.source_hash(tmp_path / "a", OLDEST) != one  # each release's go.mod is part of its key
    assert b.cache_key(b.pinned(), one) == f"k8s-{NEWEST}_kine-v0.17.5_kwok-v0.7.0_{one}"
    assert b.cache_key(b.pinned("oldest"), one) != b.cache_key(b.pinned(), one)


def test_the_go_module_ships_inside_the_package_with_one_go_mod_per_release() -> None:
    """Package data, found from the installed package (a wheel has no checkout around it)."""
    src = b.source_dir({})
    assert src == Path(b.__file__).parent / "kube-control-plane"
    assert sorted(p.name for p in src.iterdir() if p.is_file()) == [b.MAIN_GO]
    assert sorted(p.name for p in src.iterdir() if p.is_dir()) == sorted(r.kubernetes for r in versions.supported())
    for release in versions.supported():
        assert all(path.is_file() for path in b.source_files(src, release.kubernetes).values())
        # The built binary's build info names this module path; matches_pin compares it.
        gomod = (src / release.kubernetes / "go.mod").read_text()
        assert gomod.splitlines()[0] == f"module {b.CONTROL_PLANE_PACKAGE}"
    assert b.source_dir({b.SOURCE_ENV: "/elsewhere"}) == Path("/elsewhere")


def test_a_build_runs_on_a_copy_of_exactly_the_hashed_files(tmp_path: Path) -> None:
    src = _src(tmp_path / "src")
    (src / "notes.txt").write_text("not part of the module")
    before = {p.name: p.read_bytes() for p in src.rglob("*") if p.is_file()}
    work = _source_copy(src, OLDEST, tmp_path / "work")
    assert sorted(p.name for p in work.iterdir()) == ["go.mod", "go.sum", "main.go"]
    assert (work / "go.mod").read_text() == f"module x // {OLDEST}"
    assert {p.name: p.read_bytes() for p in src.rglob("*") if p.is_file()} == before


def test_missing_source_file_is_named(tmp_path: Path) -> None:
    _src(tmp_path, releases=(NEWEST,))
    with pytest.raises(EnvironmentProblem, match=rf"{OLDEST}/go\.mod is missing"):
        b.source_hash(tmp_path, OLDEST)


def _fill(bin_dir: Path, key: str, sizes: dict[str, int]) -> None:
    bin_dir.mkdir(parents=True)
    for name in b.REQUIRED:
        (bin_dir / name).write_bytes(b"x" * 10)
        (bin_dir / name).chmod(0o755)
    (bin_dir / b.STAMP).write_text(json.dumps({"key": key, "files": {n: {"bytes": s} for n, s in sizes.items()}}))


def test_is_current_needs_the_stamp_key_and_every_binary_with_its_size(tmp_path: Path) -> None:
    sizes = dict.fromkeys(b.REQUIRED, 10)
    _fill(tmp_path / "ok", "k1", sizes)
    assert b.is_current(tmp_path / "ok", "k1")
    assert not b.is_current(tmp_path / "ok", "k2")
    (tmp_path / "ok" / "kine").write_bytes(b"truncated")
    assert not b.is_current(tmp_path / "ok", "k1")
    assert not b.is_current(tmp_path / "nothing", "k1")


def test_locate_binaries_names_what_is_missing_and_the_build_command(tmp_path: Path) -> None:
    env = {"K3S_DR_CACHE": str(tmp_path / "cache"), "K3S_DR_CONTROL_PLANE_SRC": str(_src(tmp_path))}
    with pytest.raises(EnvironmentProblem, match=rf"for Kubernetes {NEWEST} .*`k3s-dr cluster build`"):
        b.locate_binaries(env)
    oldest = versions.oldest()
    asked = f"`k3s-dr cluster build --kubernetes-version {oldest.kubernetes[1:]}`"
    with pytest.raises(EnvironmentProblem, match=re.escape(asked)):
        b.locate_binaries(env, "oldest")
    with pytest.raises(UsageError, match=r"'1\.2' is not supported"):
        b.locate_binaries(env, "1.2")
    with pytest.raises(EnvironmentProblem, match="lacks kube-control-plane, kine, kwok"):
        b.locate_binaries({"K3S_DR_BIN_DIR": str(tmp_path)})


GO_VERSION_M = """/x/kine: go1.26.8
\tpath\tgithub.com/k3s-io/kine
\tmod\tgithub.com/k3s-io/kine\tv0.17.5\th1:abc=
\tdep\tgithub.com/mattn/go-sqlite3\tv1.14.22\th1:def=
\tdep\tk8s.io/apimachinery\tv0.0.0
\t=>\tk8s.io/apimachinery\tv0.34.2\th1:ghi=
\tbuild\t-trimpath=true
\tbuild\tCGO_ENABLED=1
"""


def test_parse_build_info_reads_modules_replacements_and_settings() -> None:
    info = parse_build_info(GO_VERSION_M)
    assert (info.path, info.main_module, info.main_version) == ("github.com/k3s-io/kine", "github.com/k3s-io/kine",
                                                               "v0.17.5")
    assert info.deps["k8s.io/apimachinery"] == "v0.34.2"
    assert info.settings == {"-trimpath": "true", "CGO_ENABLED": "1"}


def test_matches_pin_accepts_only_the_pinned_builds() -> None:
    pins = b.pinned()
    kine = parse_build_info(GO_VERSION_M)
    assert matches_pin("kine", kine, pins)
    assert not matches_pin("kine", kine, b.Versions(NEWEST, kine="v0.18.0"))
    assert not matches_pin("kine", GoBuildInfo(kine.path, kine.main_module, kine.main_version,
                                               settings={"CGO_ENABLED": "0"}), pins)
    control_plane = GoBuildInfo(b.CONTROL_PLANE_PACKAGE, deps={"k8s.io/kubernetes": NEWEST},
                                settings={"-trimpath": "true"})
    assert matches_pin(b.MULTI_CALL, control_plane, pins)
    assert not matches_pin(b.MULTI_CALL, control_plane, b.pinned("oldest"))
    kwok = GoBuildInfo(b.KWOK_PACKAGE, b.KWOK_MODULE, "v0.7.0")
    assert matches_pin("kwok", kwok, pins)
    assert not matches_pin("kwok", kine, pins)


def test_the_api_servers_version_line_is_parsed_and_anything_else_is_not() -> None:
    assert b.parse_version_output("Kubernetes v1.37.2\n") == "v1.37.2"
    assert b.parse_version_output("Kubernetes v0.0.0-master+$Format:%H$") is None
    assert b.parse_version_output("") is None
    assert b.parse_version_output("Kubernetes v1.37.2\nKubernetes v1.35.4") is None


def test_binary_versions_come_from_the_stamp(tmp_path: Path) -> None:
    tmp_path.joinpath(b.STAMP).write_text(json.dumps({"versions": {"kubernetes": OLDEST, "kine": "v0.17.5",
                                                                   "kwok": "v0.7.0"}}))
    assert b.binary_versions(tmp_path) == b.Versions(OLDEST)
