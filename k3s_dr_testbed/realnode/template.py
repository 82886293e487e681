"""A containerd root with the node's images already imported, cloned into each node by hard links.

Importing the 280 MB Debian image into every node's fresh containerd cost 3-6 s per start and
560 MB of disk per cluster (content blob + unpacked snapshot). Instead the images are imported
once into a template root; each node gets a copy of its directory tree whose files are hard
links (content blobs and unpacked layers are immutable: containers write to their own upper
directories) except containerd's databases, which are copied because containerd writes them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from pathlib import Path

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from k3s_dr_testbed.clusters.files import write_atomic
from k3s_dr_testbed.docker import filelock
from k3s_dr_testbed.docker.engine import CACHE_DIR
from k3s_dr_testbed.docker.mounts import current_mounts_under, unmount_all_under
from k3s_dr_testbed.realnode.config import NodeLayout, containerd_config
from k3s_dr_testbed.realnode.host import pids_naming, start_process, stop_process, tool, wait_for_socket
from k3s_dr_testbed.realnode.images import PAUSE_REF, ImageTars, import_images

TEMPLATES = CACHE_DIR / "containerd-templates"
_LOCK = CACHE_DIR / "locks" / "containerd-template.lock"
_WRITTEN_BY_CONTAINERD = (".db",)  # bolt databases: copied, never shared
_READY = "ready"


def template_key(tars: ImageTars, containerd_version: str) -> str:
    """Names the template by what is in it: both image tars (named by image ID) and containerd."""
    return hashlib.sha256(f"{tars.pause.name}\0{tars.app.name}\0{containerd_version}".encode()).hexdigest()[:16]


def _containerd_version(deadline: float) -> str:
    done = subprocess.run(
        [tool("containerd"), "--version"],
        capture_output=True,
        text=True,
        timeout=max(0.1, deadline - time.monotonic()),
        check=False,
    )
    return done.stdout.strip()


def _build(template: Path, tars: ImageTars, default_config: str, deadline: float) -> None:
    """Run a throw-away containerd on the template's root just long enough to import the images."""
    building = template.with_name(template.name + ".building")
    for leftover in pids_naming(str(building)):  # a build whose process was killed
        stop_process(leftover, str(building), 2.0)
    unmount_all_under(building, deadline)
    shutil.rmtree(building, ignore_errors=True)
    layout = NodeLayout(building)
    layout.dir.mkdir(parents=True)
    layout.cni_conf_dir.mkdir(parents=True)
    write_atomic(layout.containerd_config, containerd_config(default_config, layout, PAUSE_REF))
    pid = start_process([tool("containerd"), "--config", str(layout.containerd_config)], layout.log("containerd"))
    try:
        wait_for_socket(layout.containerd_socket, pid, str(layout.dir), layout.log("containerd"), deadline)
        import_images(layout.containerd_socket, tars, deadline)
    finally:
        stop_process(pid, str(layout.containerd_config), 5.0)
        unmount_all_under(layout.dir, time.monotonic() + 10)
    if current_mounts_under(layout.dir):
        raise EnvironmentProblem(f"the containerd template {building} is still mounted after its build")
    shutil.rmtree(template, ignore_errors=True)
    layout.containerd_root.rename(template)  # atomic: a template dir exists only when complete
    shutil.rmtree(building, ignore_errors=True)


def _clone(template: Path, target: Path, deadline: float) -> None:
    if target.exists():
        if current_mounts_under(target):
            raise EnvironmentProblem(f"not replacing {target}: something is still mounted below it")
        shutil.rmtree(target)
    left = max(0.1, deadline - time.monotonic())
    try:
        subprocess.run(["cp", "-al", str(template), str(target)], check=True, capture_output=True, timeout=left)
    except subprocess.TimeoutExpired as exc:
        raise DeadlineExceeded(f"cloning the containerd template into {target} passed the deadline") from exc
    except subprocess.CalledProcessError as exc:
        raise EnvironmentProblem(f"cloning the containerd template into {target} failed: {exc.stderr!r}") from exc
    for linked in target.rglob("*"):
        if linked.is_file() and not linked.is_symlink() and linked.name.endswith(_WRITTEN_BY_CONTAINERD):
            private = linked.with_name(linked.name + ".copy")
            shutil.copy2(linked, private)
            private.replace(linked)


def prepare_containerd_root(layout: NodeLayout, tars: ImageTars, default_config: str, deadline: float) -> float:
    """Give the node a containerd root that already holds its images; returns seconds spent."""
    started = time.monotonic()
    key = template_key(tars, _containerd_version(deadline))
    template = TEMPLATES / key
    with filelock.held(_LOCK, deadline, "preparing the containerd template"):
        if not (template / _READY).is_file():
            _build(template, tars, default_config, deadline)
            (template / _READY).write_text(key + "\n")
            for stale in TEMPLATES.iterdir():  # older images' templates: nodes keep their own links
                if stale.name != key:
                    shutil.rmtree(stale, ignore_errors=True)
        _clone(template, layout.containerd_root, deadline)
    (layout.containerd_root / _READY).unlink(missing_ok=True)
    return time.monotonic() - started
