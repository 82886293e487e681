"""SIGKILL at chosen points of `k3s-dr backup`, many times: never a partial archive under a real name,
never a dangling or unverified link, never a damaged older archive, and the next run recovers.

The points are phases seen from outside, in the backup directory, as the run reaches them: at once
(before anything is written), when its temporary files appear (writing), when the new archive has its
real name, when its sidecar says verified, when the latest link points at it. The test polls the
directory and kills the moment the phase shows: no timing guess, no hook in the product.
"""

from __future__ import annotations

import collections
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from _backup_helpers import K3S_DR, cli, isolated_env

from dr_lib.archive import format as fmt
from dr_lib.archive import is_verified, read_link, verify_archive
from dr_lib.kube.client import Kube

LINKS = ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz")
KILLS_KEEPING_ALL = 40  # rotation off: every older archive must stay bit-identical
KILLS_ROTATING = 20  # keep=2: kills land in rotation too


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _archives(directory: Path) -> dict[str, Path]:
    return {p.name: p for p in directory.iterdir() if fmt.archive_time(p.name) is not None}


def _temps(directory: Path) -> set[str]:
    """Temporary files and directories (their names carry the writer's pid: each run's are its own)."""
    return {p.name for p in directory.iterdir() if p.name.startswith(fmt.TEMP_PREFIX)}


def _state_after_kill(directory: Path, before: set[str], temps_before: set[str]) -> str:
    """Where the run was when it died, read from what it left (for the report)."""
    new = set(_archives(directory)) - before
    temps = _temps(directory) - temps_before
    targets = {read_link(directory, link).target for link in LINKS}
    if not new:
        return "writing (temp files left)" if temps else "before writing"
    if not all(is_verified(directory / name) for name in new):
        return "written, not yet verified"
    if not targets & new:
        return "verified, not yet promoted"
    return "promoted" if len(targets) == 1 else "between the two links"


def _check_invariants(directory: Path) -> None:
    for link in LINKS:
        state = read_link(directory, link)
        assert state.state == "ok", f"{link} is {state.state}"
        target = directory / str(state.target)
        assert is_verified(target), f"{link} points at {target.name}, which has no sidecar"
        verify_archive(target)
    for path in _archives(directory).values():
        verify_archive(path)  # a real archive name only ever holds a complete archive


def _new_archive(directory: Path, before: set[str]) -> str | None:
    return next(iter(sorted(set(_archives(directory)) - before)), None)


def _reached(point: str, directory: Path, before: set[str], temps_before: set[str]) -> bool:
    """Whether the run has reached ``point``, read from the directory as it is now."""
    if point == "start":
        return True
    if point == "temp files":
        return bool(_temps(directory) - temps_before)
    new = _new_archive(directory, before)
    if new is None:
        return False
    if point == "archive named":
        return True
    if point == "verified":
        return (directory / (new + fmt.SIDECAR_SUFFIX)).exists()
    return read_link(directory, LINKS[0]).target == new  # "latest moved"


POINTS = ("start", "temp files", "archive named", "verified", "latest moved")


def _kill_at(args: list[str], env: dict[str, str], directory: Path, point: str) -> str:
    """Run a backup and SIGKILL it the moment ``point`` shows; where it was when it died."""
    names_before, temps_before = set(_archives(directory)), _temps(directory)  # a killed run's leftovers
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while proc.poll() is None and not _reached(point, directory, names_before, temps_before):
        assert time.monotonic() < deadline, f"the backup did not reach {point!r} in 300 s"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    if proc.returncode != -signal.SIGKILL:
        return "finished"
    return _state_after_kill(directory, names_before, temps_before)


def _kill_runs(kubeconfig: Path, directory: Path, env: dict[str, str], count: int, *,
               keep_all: bool) -> collections.Counter[str]:
    states: collections.Counter[str] = collections.Counter()
    args = [K3S_DR, "backup", "--kubeconfig", str(kubeconfig), "--dir", str(directory), "--allow-shrink"]
    for i in range(count):
        before = {name: _sha(path) for name, path in _archives(directory).items()} if keep_all else {}
        states[_kill_at(args, env, directory, POINTS[i % len(POINTS)])] += 1
        _check_invariants(directory)
        for name, digest in before.items():
            assert _sha(directory / name) == digest, f"older archive {name} changed"
    return states


@pytest.mark.slow
def test_sigkill_at_chosen_points(cluster: Any, kube: Kube, namespace: str, tmp_path: Path) -> None:
    for i in range(300):  # enough objects that exporting and writing take a measurable share of a run
        body = {"metadata": {"name": f"cm-{i}"}, "data": {"v": os.urandom(300).hex()}}
        assert kube.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body=body).ok
    directory = tmp_path / "backups"
    env = isolated_env(tmp_path, K3S_DR_BACKUP_KEEP="1000")
    first = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", directory, "--json", env=env)
    assert first.code == 0, first.stderr

    states = _kill_runs(cluster.kubeconfig, directory, env, KILLS_KEEPING_ALL, keep_all=True)
    assert Path(first.json["archive"]).name in _archives(directory)
    states += _kill_runs(cluster.kubeconfig, directory, isolated_env(tmp_path, K3S_DR_BACKUP_KEEP="2"),
                         KILLS_ROTATING, keep_all=False)
    print(f"\n{KILLS_KEEPING_ALL + KILLS_ROTATING} kills at {', '.join(POINTS)}: {dict(states)}")
    assert sum(states.values()) == KILLS_KEEPING_ALL + KILLS_ROTATING
    # The first two points are long phases that cannot be missed; the later ones land in whichever of
    # written / verified / promoted the run is in when the directory shows them.
    assert states["before writing"] == states["writing (temp files left)"] == (KILLS_KEEPING_ALL + KILLS_ROTATING) // 5
    assert len(states) >= 3, f"kills landed in too few phases to mean much: {dict(states)}"

    final = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", directory, "--json", "--allow-shrink",
                env=isolated_env(tmp_path, K3S_DR_BACKUP_KEEP="2"))
    assert final.code == 0, final.stderr  # the lock of a killed run is gone, its leftovers are cleaned
    assert not [p for p in directory.iterdir() if p.name.startswith(fmt.TEMP_PREFIX)]
    assert not [p for p in directory.iterdir() if p.name.endswith(fmt.SIDECAR_SUFFIX)
                and not (directory / p.name.removesuffix(fmt.SIDECAR_SUFFIX)).exists()]
    for link in LINKS:
        assert read_link(directory, link).target == Path(final.json["archive"]).name
    assert len(_archives(directory)) == 2


def test_the_next_run_recovers_from_every_state_a_kill_can_leave(cluster: Any, namespace: str,
                                                                 tmp_path: Path) -> None:
    """Deterministic complement of the random kills: fabricate each leftover, then run once."""
    directory = tmp_path / "backups"
    env = isolated_env(tmp_path, K3S_DR_BACKUP_KEEP="10")
    args = ("backup", "--kubeconfig", cluster.kubeconfig, "--dir", directory, "--json", "-n", namespace)
    first = cli(*args, env=env)
    second = cli(*args, env=env)
    assert first.code == 0 and second.code == 0
    a, b = Path(first.json["archive"]), Path(second.json["archive"])
    # killed between the two link renames: the links disagree
    os.unlink(directory / LINKS[1])
    os.symlink(a.name, directory / LINKS[1])
    # killed after the rename of the archive, before its sidecar: b is complete but unverified
    (directory / (b.name + fmt.SIDECAR_SUFFIX)).unlink()
    # killed while writing: a hidden partial archive, a spool dir, a half-made link and sidecar
    (directory / f"{fmt.TEMP_PREFIX}k3s-dr-20990101T000000Z.tar.gz.4242").write_bytes(b"\x1f\x8b partial")
    spool = directory / f"{fmt.TEMP_PREFIX}spool-4242"
    spool.mkdir()
    (spool / "configmaps.yaml").write_text("---\n{\"apiVersion\": \"v1\"")
    os.symlink(b.name, directory / f"{fmt.TEMP_PREFIX}{LINKS[0]}.4242")
    (directory / f"{fmt.TEMP_PREFIX}{b.name}.verified.json.4242").write_text("{")
    # killed during rotation: the archive went, its sidecar stayed
    (directory / "k3s-dr-20200101T000000Z.tar.gz.verified.json").write_text("{}")

    listed = cli("list", "--dir", directory, "--json", env=env).json
    assert {x["name"]: x["verified"] for x in listed["archives"]} == {a.name: True, b.name: False}
    assert {name: link["target"] for name, link in listed["links"].items()} == {LINKS[0]: b.name, LINKS[1]: a.name}

    third = cli(*args, env=env)
    assert third.code == 0, third.stderr
    c = Path(third.json["archive"]).name
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [a.name, a.name + fmt.SIDECAR_SUFFIX, b.name, c, c + fmt.SIDECAR_SUFFIX, *LINKS])
    for link in LINKS:
        assert read_link(directory, link).target == c
    assert verify_archive(directory / b.name).objects == second.json["objects"]  # kept, usable, re-verifiable
