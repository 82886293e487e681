"""Images built on this machine: a Debian base (systemd, python3) and a pause image.

No registry can be reached, so images come from debootstrap (Debian's own mirror, the one
apt already uses) and from a static C binary, then ``docker import``. Each build is cached:
the image carries a label with the hash of its recipe, and a call is a no-op when the engine
already holds the image with that label.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from k3s_dr_testbed.docker import filelock
from k3s_dr_testbed.docker._proc import run, seconds_left, tail
from k3s_dr_testbed.docker.engine import CACHE_DIR, docker_cli, ensure_engine, image_label
from k3s_dr_testbed.docker.mounts import unmount_all_under

DEBIAN_TAG = "local/debian-systemd:bookworm"
PAUSE_TAG = "local/pause:3.10"
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("systemd", "systemd-sysv", "dbus", "procps", "python3")
RECIPE_LABEL = "org.k3s-dr.recipe"
DEBIAN_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
FALLBACK_MIRROR = "http://deb.debian.org/debian"
_BUILD_DIR = CACHE_DIR / "image-build"
_DEBIAN_BUILD_SECONDS = 900.0  # debootstrap measured ~1.5 min; a slow mirror gets room
_PAUSE_BUILD_SECONDS = 120.0

PAUSE_SOURCE = """\
/* The pod sandbox's first process: holds the namespaces and waits to be told to stop. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
static void bye(int sig) { (void)sig; exit(0); }
static void reap(int sig) { (void)sig; }
int main(void) {
    signal(SIGINT, bye);
    signal(SIGTERM, bye);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
"""


def debian_mirror(sources: dict[Path, str]) -> str:
    """The Debian archive URI apt uses (deb822 ``URIs:`` or one-line ``deb URI suite``), not the security one."""
    for path, text in sources.items():
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = dict(
                    line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith("#")
                )
                suites = fields.get("Suites", "").split()
                uris = fields.get("URIs", "").split()
                if uris and DEBIAN_SUITE in suites:
                    return uris[0].strip()
        else:
            for line in text.splitlines():
                uri_suite = _one_line_uri_suite(line)
                if uri_suite and uri_suite[1] == DEBIAN_SUITE:
                    return uri_suite[0]
    return FALLBACK_MIRROR


def _one_line_uri_suite(line: str) -> tuple[str, str] | None:
    """``deb [options] URI suite components`` -> (URI, suite)."""
    words = line.split()
    if not words or words[0] != "deb":
        return None
    rest = words[1:]
    if rest and rest[0].startswith("["):
        closing = next((i for i, w in enumerate(rest) if w.endswith("]")), len(rest) - 1)
        rest = rest[closing + 1 :]
    return (rest[0], rest[1]) if len(rest) >= 2 else None


def _read_sources() -> dict[Path, str]:
    found: dict[Path, str] = {}
    for path in DEBIAN_SOURCES:
        with contextlib.suppress(OSError):
            found[path] = path.read_text()
    return found


def recipe_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _require(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise EnvironmentProblem(
            f"{tool} is needed to build images locally and is not installed",
            hint=f"install the Debian package {package}: apt-get install -y {package}",
        )
    return found


def _remove_scratch(scratch: Path) -> None:
    # debootstrap mounts /proc and /sys inside the root and leaves them when interrupted:
    # never let rmtree walk into a mount.
    if unmount_all_under(scratch, time.monotonic() + 30).remaining == ():
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _scratch_dir(prefix: str) -> Iterator[Path]:
    """A build directory; callers hold the build's lock, so older ones of ``prefix`` are leftovers."""
    _BUILD_DIR.mkdir(parents=True, exist_ok=True)
    for leftover in _BUILD_DIR.glob(f"{prefix}*"):
        _remove_scratch(leftover)
    scratch = Path(tempfile.mkdtemp(prefix=prefix, dir=_BUILD_DIR))
    try:
        yield scratch
    finally:
        _remove_scratch(scratch)


def _is_current(tag: str, recipe: str, deadline: float) -> bool:
    try:
        return image_label(tag, RECIPE_LABEL, deadline) == recipe
    except EnvironmentProblem:
        return False  # no such image


def _import_tree(root: Path, tag: str, changes: list[str], deadline: float) -> None:
    """``tar -C root -c . | docker import`` with a deadline over both ends."""
    argv = [docker_cli(), "import"]
    for change in changes:
        argv += ["-c", change]
    argv += ["-", tag]
    tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
    try:
        done = subprocess.run(
            argv, stdin=tar.stdout, capture_output=True, timeout=seconds_left(deadline, f"importing {tag}"), check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise DeadlineExceeded(f"docker import of {tag} did not finish before the deadline") from exc
    finally:
        if tar.stdout is not None:
            tar.stdout.close()
        tar.kill() if tar.poll() is None else None
        tar.wait()
    if done.returncode != 0:
        raise EnvironmentProblem(f"docker import of {tag} failed: {tail(done.stderr)}")


def ensure_debian_image(tag: str = DEBIAN_TAG, deadline: float | None = None) -> str:
    """Build (once) a Debian bookworm image with systemd as init and python3; return its tag.

    Cold: debootstrap from the machine's own apt mirror (~1.5 min). Warm: a no-op. Other
    images extend it with ``FROM local/debian-systemd:bookworm``.
    """
    limit = deadline if deadline is not None else time.monotonic() + _DEBIAN_BUILD_SECONDS
    ensure_engine(limit)
    mirror = debian_mirror(_read_sources())
    recipe = recipe_hash("debootstrap", "minbase", DEBIAN_SUITE, *DEBIAN_PACKAGES, mirror)
    if _is_current(tag, recipe, limit):
        return tag
    debootstrap = _require("debootstrap", "debootstrap")
    with filelock.held(CACHE_DIR / "locks" / "debian-image.lock", limit, f"building {tag}"):
        if _is_current(tag, recipe, limit):  # built by another process while we waited
            return tag
        with _scratch_dir("debian-") as scratch:
            root = scratch / "root"
            run(
                [
                    debootstrap,
                    "--variant=minbase",
                    f"--include={','.join(DEBIAN_PACKAGES)}",
                    DEBIAN_SUITE,
                    str(root),
                    mirror,
                ],
                limit,
                f"debootstrap {DEBIAN_SUITE} from {mirror}",
            )
            _import_tree(root, tag, ['CMD ["/sbin/init"]', f"LABEL {RECIPE_LABEL}={recipe}"], limit)
    return tag


def ensure_pause_image(tag: str = PAUSE_TAG, deadline: float | None = None) -> str:
    """Build (once) the pod sandbox image: a static binary that waits for a signal; return its tag."""
    limit = deadline if deadline is not None else time.monotonic() + _PAUSE_BUILD_SECONDS
    ensure_engine(limit)
    recipe = recipe_hash("pause", PAUSE_SOURCE)
    if _is_current(tag, recipe, limit):
        return tag
    gcc = _require("gcc", "gcc")
    with (
        filelock.held(CACHE_DIR / "locks" / "pause-image.lock", limit, f"building {tag}"),
        _scratch_dir("pause-") as scratch,
    ):
        if _is_current(tag, recipe, limit):
            return tag
        source = scratch / "pause.c"
        source.write_text(PAUSE_SOURCE)
        root = scratch / "root"
        root.mkdir()
        try:
            run([gcc, "-static", "-O2", "-o", str(root / "pause"), str(source)], limit, "compiling the pause binary")
        except EnvironmentProblem as exc:
            raise EnvironmentProblem(
                f"{exc.message}", hint="a static build needs the Debian package libc6-dev next to gcc"
            ) from exc
        _import_tree(root, tag, ['ENTRYPOINT ["/pause"]', f"LABEL {RECIPE_LABEL}={recipe}"], limit)
    return tag
