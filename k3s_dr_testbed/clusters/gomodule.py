"""The Go module the multi-call ``kube-control-plane`` is built from, one ``go.mod``/``go.sum`` per
supported Kubernetes release (``kube-control-plane/<tag>/``) beside one shared ``main.go``.

``k8s.io/kubernetes`` requires its staging modules (``k8s.io/api``, ``k8s.io/client-go``, …) at
``v0.0.0``: our module replaces each with ``v0.<minor>.<patch>`` of the same release, and the list
differs between minors (1.36 added ``k8s.io/cri-streaming`` and ``k8s.io/streaming``), so it is
read from that release's own go.mod. The files are generated once per release by a maintainer
(``python -m k3s_dr_testbed.clusters.gomodule v1.37.2``, which needs the Go module proxy) and
shipped as package data, so a build uses exactly the checked-in go.sum;
:func:`module_problems` is what the unit tests hold every shipped module to.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.clusters.goinfo import go_binary
from k3s_dr_testbed.clusters.versions import Release, resolve

MODULE_PATH = "github.com/k3s-dr/k3s-dr/tools/control-plane"  # see binaries.CONTROL_PLANE_PACKAGE
SOURCE_ROOT = Path(__file__).resolve().parent / "kube-control-plane"
MAIN_GO = "main.go"
VERSIONED_FILES = ("go.mod", "go.sum")
_STAGING = re.compile(r"^\s+(k8s\.io/[a-z0-9-]+) v0\.0\.0\s*$", re.MULTILINE)
_REPLACE = re.compile(r"^replace (k8s\.io/[a-z0-9-]+) => (k8s\.io/[a-z0-9-]+) (v\S+)\s*$", re.MULTILINE)
_REQUIRE_K8S = re.compile(r"^\s*(?:require\s+)?k8s\.io/kubernetes (v\S+)", re.MULTILINE)
_GO_SECONDS = 900.0


def staging_modules(kubernetes_gomod: str) -> list[str]:
    """The staging modules ``k8s.io/kubernetes``'s go.mod requires at v0.0.0. Pure."""
    return sorted(set(_STAGING.findall(kubernetes_gomod)))


def staging_tag(kubernetes: str) -> str:
    """v1.37.2 → v0.37.2: the staging modules' tag of one Kubernetes release. Pure."""
    return "v0." + kubernetes.removeprefix("v1.")


def module_problems(gomod: str, release: Release, staging: list[str] | None = None) -> list[str]:
    """What is wrong with a shipped go.mod for ``release`` (empty: nothing). Pure."""
    problems = []
    required = _REQUIRE_K8S.findall(gomod)
    if required != [release.kubernetes]:
        problems.append(f"requires k8s.io/kubernetes {required or 'nothing'}, not {release.kubernetes}")
    replaced = {old: (new, tag) for old, new, tag in _REPLACE.findall(gomod)}
    want = staging_tag(release.kubernetes)
    wrong = sorted(m for m, (new, tag) in replaced.items() if new != m or tag != want)
    if wrong:
        problems.append(f"replaces {', '.join(wrong)} with something other than itself at {want}")
    missing = sorted(set(staging or ()) - set(replaced))
    if missing:
        problems.append(f"does not replace the staging modules {', '.join(missing)}")
    if f"module {MODULE_PATH}\n" not in gomod:
        problems.append(f"is not module {MODULE_PATH}")
    return problems


def _go(argv: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run([go_binary(), *argv], cwd=cwd, capture_output=True, text=True, timeout=_GO_SECONDS,
                              check=False)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"go {' '.join(argv)} did not finish within {_GO_SECONDS:.0f} s") from None
    if done.returncode != 0:
        raise EnvironmentProblem(f"go {' '.join(argv)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def generate(release: Release, target_root: Path = SOURCE_ROOT) -> Path:
    """Write ``<target_root>/<tag>/go.mod`` and ``go.sum`` for ``release`` (Go module proxy needed)."""
    with tempfile.TemporaryDirectory(prefix="k3s-dr-gomod-") as tmp:
        work = Path(tmp)
        shutil.copy2(target_root / MAIN_GO, work / MAIN_GO)
        _go(["mod", "init", MODULE_PATH], work)
        info = json.loads(_go(["mod", "download", "-json", f"k8s.io/kubernetes@{release.kubernetes}"], work))
        staging = staging_modules(Path(info["GoMod"]).read_text(encoding="utf-8"))
        tag = staging_tag(release.kubernetes)
        _go(["mod", "edit", *(f"-replace={m}={m}@{tag}" for m in staging),
             f"-require=k8s.io/kubernetes@{release.kubernetes}"], work)
        _go(["mod", "tidy"], work)
        problems = module_problems((work / "go.mod").read_text(encoding="utf-8"), release, staging)
        if problems:
            raise EnvironmentProblem(f"the generated go.mod for {release.kubernetes} " + "; ".join(problems))
        out = target_root / release.kubernetes
        out.mkdir(exist_ok=True)
        for name in VERSIONED_FILES:
            shutil.copy2(work / name, out / name)
    return out


def main(argv: list[str]) -> int:
    for request in argv or ["newest"]:
        print(generate(resolve(request)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
