"""The binaries cache (pure parts): keys, version stamping, build-info matching, stamps."""

import json
from pathlib import Path

import pytest

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.clusters import binaries as b
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


def _src(tmp_path: Path, main: str = "package main") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, text in (("go.mod", "module x"), ("go.sum", ""), ("main.go", main)):
        (tmp_path / name).write_text(text)
    return tmp_path


def test_cache_key_changes_with_versions_and_sources(tmp_path: Path) -> None:
    one = b.source_hash(_src(tmp_path / "a"))
    two = b.source_hash(_src(tmp_path / "b", "package main // x"))
    assert one != two
    assert b.cache_key(b.PINNED, one) == f"k8s-v1.34.2_kine-v0.17.5_kwok-v0.7.0_{one}"
    assert b.cache_key(b.Versions(kubernetes="v1.35.0"), one) != b.cache_key(b.PINNED, one)


def test_the_go_module_ships_inside_the_package() -> None:
    """Package data, found from the installed package (a wheel has no checkout around it)."""
    src = b.source_dir({})
    assert src == Path(b.__file__).parent / "kube-control-plane"
    assert sorted(p.name for p in src.iterdir() if p.is_file()) == sorted(b.SOURCE_FILES)
    # The built binary's build info names this module path; matches_pin compares it.
    assert (src / "go.mod").read_text().splitlines()[0] == f"module {b.CONTROL_PLANE_PACKAGE}"
    assert b.source_dir({b.SOURCE_ENV: "/elsewhere"}) == Path("/elsewhere")


def test_a_build_runs_on_a_copy_of_exactly_the_hashed_files(tmp_path: Path) -> None:
    src = _src(tmp_path / "src")
    (src / "notes.txt").write_text("not part of the module")
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    work = _source_copy(src, tmp_path / "work")
    assert sorted(p.name for p in work.iterdir()) == sorted(b.SOURCE_FILES)
    assert b.source_hash(work) == b.source_hash(src)
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_missing_source_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match=r"go\.mod is missing"):
        b.source_hash(tmp_path)


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
    with pytest.raises(EnvironmentProblem, match="k3s-dr cluster build"):
        b.locate_binaries(env)
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
    kine = parse_build_info(GO_VERSION_M)
    assert matches_pin("kine", kine, b.PINNED)
    assert not matches_pin("kine", kine, b.Versions(kine="v0.18.0"))
    assert not matches_pin("kine", GoBuildInfo(kine.path, kine.main_module, kine.main_version,
                                               settings={"CGO_ENABLED": "0"}), b.PINNED)
    control_plane = GoBuildInfo(b.CONTROL_PLANE_PACKAGE, deps={"k8s.io/kubernetes": "v1.34.2"},
                                settings={"-trimpath": "true"})
    assert matches_pin(b.MULTI_CALL, control_plane, b.PINNED)
    assert not matches_pin(b.MULTI_CALL, control_plane, b.Versions(kubernetes="v1.35.0"))
    kwok = GoBuildInfo(b.KWOK_PACKAGE, b.KWOK_MODULE, "v0.7.0")
    assert matches_pin("kwok", kwok, b.PINNED)
    assert not matches_pin("kwok", kine, b.PINNED)
