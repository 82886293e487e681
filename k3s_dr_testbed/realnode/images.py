"""The real node's images: built locally with Docker, saved once per image ID, imported into
the node's own containerd (no registry can be reached). The app image is also what a drill's
pods run everywhere (k3d imports it from Docker: :func:`ensure_app_image`)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.docker import (
    DEBIAN_TAG,
    ensure_debian_image,
    ensure_engine,
    ensure_pause_image,
    image_id,
    save_image,
    tag_image,
)
from k3s_dr_testbed.docker.engine import CACHE_DIR
from k3s_dr_testbed.realnode.host import ctr

APP_TAG = "local/debian:bookworm"  # pods use image docker.io/local/debian:bookworm, imagePullPolicy Never
PAUSE_REF = "docker.io/local/pause:3.10"
APP_REF = f"docker.io/{APP_TAG}"
_TAR_DIR = CACHE_DIR / "images"


@dataclass(frozen=True)
class ImageTars:
    pause: Path
    app: Path
    seconds: float


def _cached_tar(tags: list[str], deadline: float) -> Path:
    """``docker save`` into a file named by the image ID: saved once, reused by every node."""
    ident = image_id(tags[0], deadline)
    if ident is None:
        raise EnvironmentProblem(f"image {tags[0]} vanished from the Docker engine")
    path = _TAR_DIR / f"{tags[0].replace('/', '_').replace(':', '_')}-{ident.split(':')[-1][:16]}.tar"
    if not path.is_file():
        save_image(tags, path, deadline)
    return path


def _engine(deadline: float) -> None:
    try:
        ensure_engine(deadline)
    except EnvironmentProblem as exc:
        raise EnvironmentProblem(
            f"the real node's images are built locally with Docker and the engine is unavailable: {exc.message}",
            hint=exc.hint,
        ) from exc


def ensure_app_image(deadline: float) -> str:
    """The Debian image pods run, built (once) and tagged ``APP_TAG`` in the Docker engine; returns its base tag."""
    _engine(deadline)
    debian = ensure_debian_image(DEBIAN_TAG, deadline=deadline)
    if image_id(APP_TAG, deadline) != image_id(debian, deadline):
        tag_image(debian, APP_TAG, deadline)
    return debian


def prepare_image_tars(deadline: float) -> ImageTars:
    """Build (once) and save (once) the pause and app images. Needs the Docker engine."""
    started = time.monotonic()
    _engine(deadline)
    pause = ensure_pause_image(deadline=deadline)
    debian = ensure_app_image(deadline)
    return ImageTars(
        pause=_cached_tar([pause], deadline),
        app=_cached_tar([APP_TAG, debian], deadline),
        seconds=time.monotonic() - started,
    )


def import_images(socket: Path, tars: ImageTars, deadline: float) -> float:
    """``ctr images import`` both tars into the node's containerd, side by side; returns seconds."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(ctr, socket, ["images", "import", str(tar)], deadline, f"importing {tar.name} into containerd")
            for tar in (tars.pause, tars.app)
        ]
        for job in jobs:
            job.result()
    return time.monotonic() - started


def images_in_containerd(socket: Path, deadline: float) -> set[str]:
    """The image references a node's containerd holds (namespace k8s.io, where the kubelet looks)."""
    listed = ctr(socket, ["images", "ls", "-q"], deadline, "listing the images in containerd")
    return {line.strip() for line in listed.splitlines() if line.strip()}


def main() -> None:
    """``python -m k3s_dr_testbed.realnode.images``: build and save the images ahead of time (CI)."""
    tars = prepare_image_tars(time.monotonic() + 1200)
    print(f"real-node images ready in {tars.seconds:.1f} s: {tars.pause} {tars.app}")


if __name__ == "__main__":
    main()
