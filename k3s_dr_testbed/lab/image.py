"""The reference host's images, built locally and cached by content (no registry).

Two layers, so a change to k3s-dr rebuilds only the small one:

* ``local/k3s-dr-standin:<key>`` FROM the Debian systemd image: the k3s stand-in (binaries,
  ``k3s.service``, token, keys, kubeconfig) and Debian's ``python3-venv`` (:mod:`.debs`), as on an
  operator's server before k3s-dr. Key: base image, binaries, stand-in scripts, the packages.
* ``local/k3s-dr-host:<key>`` FROM that: k3s-dr installed as the README says, from its wheel into
  the root-owned venv ``/opt/k3s-dr`` (``pip install --no-index --find-links`` a wheelhouse built
  here: :mod:`.wheel`) — no checkout, no Go, no Docker inside — and the host's config file.
  Key: the stand-in key, the wheel and its dependencies.

An image whose tag exists is current by construction (the tag is its content key).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from k3s_dr_testbed.docker import DEBIAN_TAG, docker_cli, ensure_debian_image, ensure_engine, image_id
from k3s_dr_testbed.docker.filelock import held
from k3s_dr_testbed.lab import standin
from k3s_dr_testbed.lab.debs import PACKAGES, download_for_image
from k3s_dr_testbed.lab.wheel import build_wheel, copy_wheelhouse, dependency_wheels

STANDIN_REPO = "local/k3s-dr-standin"
HOST_REPO = "local/k3s-dr-host"
LAB_LABEL = "org.k3s-dr.lab"
CACHE_DIR = Path.home() / ".cache" / "k3s-dr"
_BUILD_ROOT = CACHE_DIR / "lab-build"
_LOCK = CACHE_DIR / "locks" / "lab-image.lock"
DEBS_DIR = "/tmp/k3s-dr-debs"
WHEELHOUSE_DIR = "/tmp/k3s-dr-wheelhouse"
VENV = "/opt/k3s-dr"
# The README's "Install on a k3s server", offline (its test runs the README's own words on a bare host).
INSTALL_SHELL = (f"python3 -m venv {VENV} && {VENV}/bin/pip install --quiet --disable-pip-version-check --no-index "
                 f"--find-links {WHEELHOUSE_DIR} k3s-dr && ln -s {VENV}/bin/k3s-dr /usr/local/bin/k3s-dr && "
                 f"rm -rf {WHEELHOUSE_DIR}")


def _binaries_identity(bin_dir: Path) -> str:
    stamp = bin_dir / "stamp.json"
    if stamp.is_file():
        files = json.loads(stamp.read_text()).get("files", {})
        return json.dumps({name: files.get(name, {}).get("sha256") for name in ("kine", "kube-control-plane")})
    parts = []
    for name in ("kine", "kube-control-plane"):
        st = (bin_dir / name).stat()
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return ",".join(parts)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def standin_key(base_id: str, bin_dir: Path) -> str:
    return _digest(base_id, _binaries_identity(bin_dir), standin.K3S_UNIT, standin.RUN_SCRIPT,
                   standin.WAIT_READY_SCRIPT, standin.SEED_APP_SCRIPT, *PACKAGES)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def host_key(standin_tag: str, wheel: Path, dependencies: Path) -> str:
    """The dependencies' directory is named by what it was resolved from (requirements and pins)."""
    return _digest(standin_tag, wheel.name, _file_digest(wheel), dependencies.name, standin.HOST_CONFIG, INSTALL_SHELL)


def _docker_build(tag: str, base: str, fill: Callable[[Path], None], deadline: float, run: str = "") -> None:
    _BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    context = Path(tempfile.mkdtemp(prefix="ctx-", dir=_BUILD_ROOT))
    try:
        rootfs = context / "rootfs"
        rootfs.mkdir(mode=0o755)
        fill(rootfs)
        (context / "Dockerfile").write_text(
            f"FROM {base}\nCOPY rootfs/ /\n" + (f"RUN {run}\n" if run else "")
            + f"LABEL {LAB_LABEL}={tag.partition(':')[0].rsplit('/', 1)[-1]}\n"
            'CMD ["/sbin/init"]\n')
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"no time left to build {tag}")
        try:
            done = subprocess.run([docker_cli(), "build", "-q", "-t", tag, str(context)], capture_output=True,
                                  timeout=left, check=False, env={**os.environ, "DOCKER_BUILDKIT": "0"})
        except subprocess.TimeoutExpired:
            raise DeadlineExceeded(f"docker build of {tag} did not finish before the deadline") from None
        if done.returncode != 0:
            raise EnvironmentProblem(f"docker build of {tag} failed: "
                                     f"{done.stderr.decode(errors='replace').strip()[-500:]}")
    finally:
        shutil.rmtree(context, ignore_errors=True)


def _prune(repo: str, keep: str, deadline: float) -> None:
    """Drop older builds of ``repo`` (cached by content, so each code change would leave one)."""
    listed = subprocess.run([docker_cli(), "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repo],
                            capture_output=True, text=True, timeout=max(1.0, deadline - time.monotonic()),
                            check=False)
    for tag in listed.stdout.split():
        if tag != keep:  # an image a container still uses is refused by the engine: fine, it stays
            subprocess.run([docker_cli(), "rmi", tag], capture_output=True, timeout=60, check=False)


def ensure_standin_image(bin_dir: Path, deadline: float) -> str:
    """The stand-in image (a k3s server without k3s-dr) for these binaries; built only when missing."""
    ensure_engine(deadline)
    base = ensure_debian_image(DEBIAN_TAG, deadline)
    base_id = image_id(base, deadline) or base
    standin_tag = f"{STANDIN_REPO}:{standin_key(base_id, bin_dir)}"
    if image_id(standin_tag, deadline):
        return standin_tag
    with held(_LOCK, deadline, "build the reference host image"):  # one build at a time on this machine
        if not image_id(standin_tag, deadline):
            def fill(root: Path) -> None:
                standin.write_standin_tree(root, bin_dir)
                download_for_image(base, root / DEBS_DIR.lstrip("/"), deadline)

            _docker_build(standin_tag, base, fill, deadline, run=f"dpkg -i {DEBS_DIR}/*.deb && rm -rf {DEBS_DIR}")
            _prune(STANDIN_REPO, standin_tag, deadline)
    return standin_tag


def ensure_host_image(bin_dir: Path, deadline: float) -> str:
    """The reference host image for these binaries and this k3s-dr's wheel; built only when missing."""
    standin_tag = ensure_standin_image(bin_dir, deadline)
    wheel = build_wheel(deadline)
    dependencies = dependency_wheels(wheel, deadline)
    host_tag = f"{HOST_REPO}:{host_key(standin_tag, wheel, dependencies)}"
    if image_id(host_tag, deadline):
        return host_tag
    with held(_LOCK, deadline, "build the reference host image"):  # one build at a time on this machine
        if image_id(host_tag, deadline):
            return host_tag

        def fill(root: Path) -> None:
            copy_wheelhouse(wheel, dependencies, root / WHEELHOUSE_DIR.lstrip("/"))
            config = root / "etc/k3s-dr/config.yaml"
            config.parent.mkdir(parents=True)
            config.write_text(standin.HOST_CONFIG)

        _docker_build(host_tag, standin_tag, fill, deadline, run=INSTALL_SHELL)
        _prune(HOST_REPO, host_tag, deadline)
    return host_tag
