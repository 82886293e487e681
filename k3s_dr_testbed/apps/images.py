"""A database image for real hook tests and drills: Debian's PostgreSQL and sqlite3, built here.

No registry is reachable, Debian's package mirror is: the image is the project's Debian base
(``local/debian-systemd:bookworm``, debootstrap) plus ``apt-get install`` in a build container
on the host network, committed with a label holding the recipe's hash, so it is built once
and reused (~1 min cold, a no-op warm).
"""

from __future__ import annotations

import time
from pathlib import Path

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.docker import DEBIAN_TAG, docker_cli, ensure_debian_image, ensure_engine, image_id, save_image
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


def ensure_db_image(deadline: float | None = None) -> str:
    """Build (once) the database image; return its tag. Needs the Docker engine and Debian's mirror."""
    limit = deadline if deadline is not None else time.monotonic() + _BUILD_SECONDS
    ensure_engine(limit)
    base = ensure_debian_image(DEBIAN_TAG, deadline=limit)
    base_id = image_id(base, limit) or ""
    recipe = recipe_hash("db-image", base_id, *DB_PACKAGES)
    if _current(DB_TAG, recipe, limit):
        return DB_TAG
    cli = docker_cli()
    name = f"k3s-dr-db-build-{int(time.time())}"
    script = _INSTALL.format(packages=" ".join(DB_PACKAGES))
    try:
        run([cli, "run", "--name", name, "--network", "host", base, "/bin/sh", "-c", script], limit,
            f"installing {', '.join(DB_PACKAGES)} from Debian's mirror")
        run([cli, "commit", "--change", 'CMD ["/bin/bash"]', "--change", f"LABEL {RECIPE_LABEL}={recipe}", name,
             DB_TAG], limit, f"committing {DB_TAG}")
    finally:
        run([cli, "rm", "-f", name], time.monotonic() + 60, f"removing the build container {name}")
    return DB_TAG


def db_image_tar(deadline: float | None = None) -> Path:
    """The image saved for ``ctr images import`` (cached per image ID)."""
    limit = deadline if deadline is not None else time.monotonic() + _BUILD_SECONDS
    tag = ensure_db_image(limit)
    ident = (image_id(tag, limit) or "unknown").split(":")[-1][:16]
    path = CACHE_DIR / "images" / f"local_k3s-dr-db_bookworm-{ident}.tar"
    if not path.is_file():
        save_image(tag, path, limit)
    return path
