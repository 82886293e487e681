"""The lock's place, attacked (dr_lib.archive.lock): planted links and files change nothing, a directory
others can write is refused, and a second user cannot create or hold the lock, so cannot block a backup.

Real files, real modes, a real second user (``nobody``, by a forked child that drops root)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dr_lib.archive.lock import exclusive_lock
from dr_lib.errors import EnvironmentProblem, LockBusy

PRECIOUS = "precious: must survive any lock attempt\n"


def victim(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PRECIOUS)
    path.chmod(0o644)
    return path


def untouched(path: Path, before: os.stat_result) -> bool:
    after = path.stat()
    return path.read_text() == PRECIOUS and (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_the_default_place_is_created_private_and_the_file_holds_the_holder(tmp_path: Path) -> None:
    lock = tmp_path / "run" / "k3s-dr" / "k3s-dr.lock"
    with exclusive_lock(lock, "back up"):
        assert lock.read_text() == f"pid {os.getpid()} (back up)\n"
        assert stat.S_IMODE(lock.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(lock.parent.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert lock.read_text() == ""


def test_a_symbolic_link_at_the_lock_path_is_not_followed(tmp_path: Path) -> None:
    target = victim(tmp_path / "etc" / "shadow")
    before = target.stat()
    lock = tmp_path / "run" / "k3s-dr.lock"
    lock.parent.mkdir(mode=0o700)
    lock.symlink_to(target)
    with pytest.raises(EnvironmentProblem, match="is a symbolic link"), exclusive_lock(lock, "back up"):
        pass
    assert untouched(target, before) and lock.is_symlink()


def test_a_symbolic_link_as_the_lock_directory_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    target = victim(elsewhere / "k3s-dr.lock")
    before = target.stat()
    (tmp_path / "run").mkdir(mode=0o700)
    (tmp_path / "run" / "k3s-dr").symlink_to(elsewhere)
    with pytest.raises(EnvironmentProblem, match="directory is a symbolic link"), \
            exclusive_lock(tmp_path / "run" / "k3s-dr" / "k3s-dr.lock", "back up"):
        pass
    assert untouched(target, before) and sorted(p.name for p in elsewhere.iterdir()) == ["k3s-dr.lock"]


def test_a_hard_link_at_the_lock_path_is_refused(tmp_path: Path) -> None:
    target = victim(tmp_path / "etc" / "passwd")
    before = target.stat()
    lock = tmp_path / "run" / "k3s-dr.lock"
    lock.parent.mkdir(mode=0o700)
    os.link(target, lock)
    with pytest.raises(EnvironmentProblem, match="not our own regular file"), exclusive_lock(lock, "back up"):
        pass
    assert target.read_text() == PRECIOUS and target.stat().st_mtime_ns == before.st_mtime_ns


@pytest.mark.parametrize("plant", ["fifo", "directory", "someone else's file"])
def test_something_else_at_the_lock_path_is_refused_without_waiting(tmp_path: Path, plant: str) -> None:
    lock = tmp_path / "run" / "k3s-dr.lock"
    lock.parent.mkdir(mode=0o700)
    if plant == "fifo":
        os.mkfifo(lock)
    elif plant == "directory":
        lock.mkdir()
    else:
        victim(lock)
        os.chown(lock, pwd.getpwnam("nobody").pw_uid, -1)
    with pytest.raises(EnvironmentProblem, match=r"refusing the lock|cannot open the lock file"), \
            exclusive_lock(lock, "back up"):
        pass
    if plant == "someone else's file":
        assert lock.read_text() == PRECIOUS


@pytest.mark.parametrize(("mode", "where"), [(0o1777, "dir"), (0o777, "dir"), (0o775, "dir"),
                                             (0o1777, "parent"), (0o757, "parent")])
def test_a_place_others_can_write_is_refused(tmp_path: Path, mode: int, where: str) -> None:
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(mode)  # /run/lock is 1777 on the lab machines
    lock = public / "k3s-dr.lock" if where == "dir" else public / "k3s-dr" / "k3s-dr.lock"
    with pytest.raises(EnvironmentProblem, match=r"other users can write|group and others cannot write"), \
            exclusive_lock(lock, "back up"):
        pass
    assert list(public.iterdir()) == []  # nothing created there


def test_our_existing_private_directory_in_a_sticky_one_is_accepted(tmp_path: Path) -> None:
    """A drill's work directory (mkdtemp, 0700, ours) in /tmp (1777): nobody else can remove or rename it."""
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    work = Path(tempfile.mkdtemp(dir=sticky))
    with exclusive_lock(work / "k3s-dr.lock", "back up"):
        assert (work / "k3s-dr.lock").is_file()


def test_a_directory_another_user_made_in_a_sticky_one_is_refused(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    theirs = sticky / "k3s-dr"
    theirs.mkdir(mode=0o700)  # made first, by another user
    os.chown(theirs, nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(EnvironmentProblem, match=r"other users can write|owned by uid"), \
            exclusive_lock(theirs / "k3s-dr.lock", "back up"):
        pass
    assert list(theirs.iterdir()) == []


def test_a_refused_attempt_leaves_the_holders_record(tmp_path: Path) -> None:
    lock = tmp_path / "k3s-dr.lock"
    with exclusive_lock(lock, "back up"):
        for _ in range(3):
            with pytest.raises(LockBusy), exclusive_lock(lock, "restore"):
                pass
        assert lock.read_text() == f"pid {os.getpid()} (back up)\n"  # never truncated by who does not hold it


@pytest.fixture
def root_only_run() -> Iterator[Path]:
    """Like /run: a root-owned 0755 directory every user can traverse, outside pytest's private tmp."""
    base = Path(tempfile.mkdtemp(prefix="k3s-dr-lock-test-", dir="/tmp"))
    base.chmod(0o755)
    run = base / "run"
    run.mkdir(mode=0o755)
    try:
        yield run
    finally:
        shutil.rmtree(base)


def as_nobody(attempt: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Run ``attempt`` in a forked child that dropped root for ``nobody``; its findings come back as JSON."""
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            os.write(write_end, json.dumps({"uid": str(os.geteuid()), **attempt()}).encode())
        except BaseException:  # report nothing but the failure: the parent asserts on it
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, data
    result: dict[str, str] = json.loads(data)
    assert result["uid"] == str(nobody.pw_uid)
    return result


def _try(action: Callable[[], object]) -> str:
    try:
        action()
    except OSError as exc:
        return f"OSError {exc.errno}"
    except EnvironmentProblem as exc:
        return f"EnvironmentProblem: {exc.message}"
    except LockBusy:
        return "LockBusy"
    return "done"


def test_a_second_user_cannot_create_or_hold_the_lock(root_only_run: Path) -> None:
    lock = root_only_run / "k3s-dr" / "k3s-dr.lock"

    def before_root() -> dict[str, str]:  # the directory does not exist yet: plant it, or a link
        return {"mkdir": _try((root_only_run / "k3s-dr").mkdir),
                "symlink": _try(lambda: (root_only_run / "k3s-dr").symlink_to("/tmp")),
                "lock": _try(lambda: exclusive_lock(lock, "block backups").__enter__())}

    early = as_nobody(before_root)
    assert early["mkdir"] == early["symlink"] == "OSError 13", early
    assert early["lock"].startswith("EnvironmentProblem"), early
    assert not (root_only_run / "k3s-dr").exists()

    with exclusive_lock(lock, "back up"):
        pass  # root creates the place

    def after_root() -> dict[str, str]:  # the directory exists: plant a file or link in it, or hold the lock
        return {"create": _try(lambda: os.open(lock.with_name("planted"), os.O_CREAT | os.O_WRONLY, 0o644)),
                "symlink": _try(lambda: lock.with_name("other.lock").symlink_to("/etc/passwd")),
                "open": _try(lambda: os.open(lock, os.O_RDONLY)),
                "lock": _try(lambda: exclusive_lock(lock, "block backups").__enter__())}

    late = as_nobody(after_root)
    assert late["create"] == late["symlink"] == late["open"] == "OSError 13", late
    assert late["lock"].startswith("EnvironmentProblem") and "Permission denied" in late["lock"], late
    assert sorted(p.name for p in lock.parent.iterdir()) == ["k3s-dr.lock"]
    with exclusive_lock(lock, "back up"):  # the backup is not blocked
        assert lock.read_text() == f"pid {os.getpid()} (back up)\n"
