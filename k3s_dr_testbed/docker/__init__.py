"""The one door to the Docker engine and locally built images (no registry can be reached)."""

from k3s_dr_testbed.docker.engine import Engine, docker_cli, ensure_engine, image_id, save_image, tag_image
from k3s_dr_testbed.docker.images import DEBIAN_TAG, PAUSE_TAG, ensure_debian_image, ensure_pause_image
from k3s_dr_testbed.docker.mounts import UnmountResult, unmount_all_under

__all__ = [
    "DEBIAN_TAG",
    "PAUSE_TAG",
    "Engine",
    "UnmountResult",
    "docker_cli",
    "ensure_debian_image",
    "ensure_engine",
    "ensure_pause_image",
    "image_id",
    "save_image",
    "tag_image",
    "unmount_all_under",
]
