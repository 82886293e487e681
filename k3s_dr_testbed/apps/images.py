"""Database images for real hook tests and drills: Debian's servers, built here.

No registry is reachable, Debian's package mirror is: an image is a base image plus
``apt-get install`` in a build container on the host network, committed with a label holding
the recipe's hash, so it is built once and reused (a no-op warm).

- ``local/k3s-dr-db:bookworm``: the project's Debian base + PostgreSQL and sqlite3 (~1 min cold).
- ``local/k3s-dr-servers:bookworm``: that image + MariaDB and Redis, the other servers Debian
  ships that the presets drive. Layered on the PostgreSQL image rather than a second copy of the
  base, and saved together with it in one tar, so a cluster that runs every preset imports the
  shared layers once (measured on this machine: 33 s to build on top of the PostgreSQL image,
  958 MB image, 971 MB tar holding both tags; one image with all three servers from the base:
  82 s, 955 MB — the same size, but it would grow the image every PostgreSQL-only user imports).
"""

from __future__ import annotations

import time
from pathlib import Path

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.docker import (
    DEBIAN_TAG,
    docker_cli,
    ensure_debian_image,
    ensure_engine,
    filelock,
    image_id,
    save_image,
)
from k3s_dr_testbed.docker._proc import run
from k3s_dr_testbed.docker.engine import CACHE_DIR, image_label
from k3s_dr_testbed.docker.images import RECIPE_LABEL, recipe_hash

DB_TAG = "local/k3s-dr-db:bookworm"
DB_REF = f"docker.io/{DB_TAG}"  # how pods name it (imagePullPolicy: Never)
DB_PACKAGES = ("postgresql", "postgresql-client", "sqlite3")
POSTGRES_BIN = "/usr/lib/postgresql/15/bin"  # bookworm's PostgreSQL major version
_BUILD_SECONDS = 900.0
# No service starts inside the build container (policy-rc.d 101 = "action forbidden").
_INSTALL = ("printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && "
            "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
            "{packages} && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d")


def _current(tag: str, recipe: str, deadline: float) -> bool:
    try:
        return image_label(tag, RECIPE_LABEL, deadline) == recipe
    except EnvironmentProblem:
        return False


def _install_layer(base: str, tag: str, recipe: str, packages: tuple[str, ...], deadline: float) -> None:
    """``apt-get install packages`` in a container of ``base``, committed as ``tag`` with its recipe label."""
    cli = docker_cli()
    name = f"{tag.rsplit('/', maxsplit=1)[-1].split(':', maxsplit=1)[0]}-build-{int(time.time())}"
    script = _INSTALL.format(packages=" ".join(packages))
    try:
        run([cli, "run", "--name", name, "--network", "host", base, "/bin/sh", "-c", script], deadline,
            f"installing {', '.join(packages)} from Debian's mirror")
        run([cli, "commit", "--change", 'CMD ["/bin/bash"]', "--change", f"LABEL {RECIPE_LABEL}={recipe}", name,
             tag], deadline, f"committing {tag}")
    finally:
        run([cli, "rm", "-f", name], time.monotonic() + 60, f"removing the build container {name}")


def ensure_db_image(deadline: float | None = None) -> str:
    """Build (once) the database image; return its tag. Needs the Docker engine and Debian's mirror."""
    limit = deadline if deadline is not None else time.monotonic() + _BUILD_SECONDS
    ensure_engine(limit)
    base = ensure_debian_image(DEBIAN_TAG, deadline=limit)
    base_id = image_id(base, limit) or ""
    recipe = recipe_hash("db-image", base_id, *DB_PACKAGES)
    if _current(DB_TAG, recipe, limit):
        return DB_TAG
    _install_layer(base, DB_TAG, recipe, DB_PACKAGES, limit)
    return DB_TAG


def _saved(tags: list[str], deadline: float) -> Path:
    """``tags`` saved into one tar for ``ctr images import``, cached per ID of the last (the one they make up)."""
    ident = (image_id(tags[-1], deadline) or "unknown").split(":")[-1][:16]
    stem = tags[-1].replace("/", "_").replace(":", "_")
    path = CACHE_DIR / "images" / f"{stem}-{ident}.tar"
    if not path.is_file():
        save_image(tags, path, deadline)
    return path


def db_image_tar(deadline: float | None = None) -> Path:
    """The image saved for ``ctr images import`` (cached per image ID)."""
    limit = deadline if deadline is not None else time.monotonic() + _BUILD_SECONDS
    return _saved([ensure_db_image(limit)], limit)


# --- MariaDB and Redis: the presets' other real servers ------------------------------------------------------

SERVERS_TAG = "local/k3s-dr-servers:bookworm"
SERVERS_REF = f"docker.io/{SERVERS_TAG}"
SERVERS_PACKAGES = ("mariadb-server", "mariadb-client", "redis-server")  # bookworm: MariaDB 10.11, Redis 7.0
_SERVERS_LOCK = CACHE_DIR / "locks" / "servers-image.lock"


def ensure_servers_image(deadline: float | None = None) -> str:
    """Build (once) the PostgreSQL image plus MariaDB and Redis; return its tag."""
    limit = deadline if deadline is not None else time.monotonic() + _BUILD_SECONDS
    base = ensure_db_image(limit)
    recipe = recipe_hash("servers-image", image_id(base, limit) or "", *SERVERS_PACKAGES)
    if _current(SERVERS_TAG, recipe, limit):
        return SERVERS_TAG
    with filelock.held(_SERVERS_LOCK, limit, f"building {SERVERS_TAG}"):
        if not _current(SERVERS_TAG, recipe, limit):  # another process may have built it while we waited
            _install_layer(base, SERVERS_TAG, recipe, SERVERS_PACKAGES, limit)
    return SERVERS_TAG


def servers_image_tar(deadline: float | None = None) -> Path:
    """One tar holding both the PostgreSQL image and the servers image (shared layers stored once)."""
    limit = deadline if deadline is not None else time.monotonic() + _BUILD_SECONDS
    return _saved([DB_TAG, ensure_servers_image(limit)], limit)
