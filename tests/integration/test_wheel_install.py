"""The product without the test bed: the wheel, installed with no extra into a clean venv.

What an operator's k3s server gets (``pip install k3s-dr``): the core dependencies only (no test
bed, no boto3), the CLI starts, every product command answers ``--help``, the test bed's commands
fail with one line naming the ``testbed`` extra and an S3 target with one line naming ``s3`` (exit
7), and a real backup → loss → restore works against a cluster the test bed started
from the project's own venv. The wheel is built from a copy of the sources (``build/`` in the
checkout may hold files of modules that have moved since). pip may fetch the core dependencies
from the package index.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _backup_helpers import isolated_env
from _kube import create, wait_for
from restore_cli import write_config

import dr_lib
from dr_lib.errors import ExitCode
from dr_lib.kube.client import Kube

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "docs", "dr_lib", "k3s_dr_testbed")  # docs: the runbook data file
PRODUCT_COMMANDS = ("backup", "restore", "verify", "list", "diff", "check", "drill", "metrics", "install", "fix",
                    "push", "pull", "ls", "report", "exporter")
EXTRA_LINE = ("needs the test bed (the 'testbed' extra; not installed here: testcontainers): "
              "pip install 'k3s-dr[testbed]'")
LABEL = "k3s-dr.io/wheel-test"


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def k3s_dr(self) -> Path:
        return self.root / "bin" / "k3s-dr"

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"


def _run(argv: list[str | Path], *, timeout: float, cwd: Path, env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in (env or os.environ).items() if k not in ("PYTHONPATH", "K3S_DR_DEBUG")}
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=clean, check=False)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    _ok(_run([sys.executable, "-m", "build", "--wheel", "--outdir", work / "dist", source], timeout=600, cwd=work))
    wheels = sorted((work / "dist").glob("k3s_dr-*.whl"))
    assert len(wheels) == 1, wheels
    root = work / "venv"
    _ok(_run([sys.executable, "-m", "venv", root], timeout=300, cwd=work))
    env = Venv(root)
    _ok(_run([env.python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheels[0]], timeout=900,
             cwd=work))
    yield env


def test_the_venv_has_the_wheel_and_no_testbed_dependency(venv: Venv) -> None:
    probe = ("import importlib.util, json, dr_lib, k3s_dr_testbed; "
             "print(json.dumps({'dr_lib': dr_lib.__file__, 'testbed': k3s_dr_testbed.__file__, "
             "'missing': [m for m in ('testcontainers', 'docker', 'boto3', 'xdist') "
             "if importlib.util.find_spec(m) is None]}))")
    found = json.loads(_ok(_run([venv.python, "-c", probe], timeout=60, cwd=venv.root)))
    assert Path(found["dr_lib"]).is_relative_to(venv.root), found  # the wheel's copy, not the checkout
    assert Path(found["testbed"]).is_relative_to(venv.root), found  # same distribution, its extra left out
    assert found["missing"] == ["testcontainers", "docker", "boto3", "xdist"]  # the extras' dependencies
    _ok(_run([venv.python, "-m", "pip", "check"], timeout=120, cwd=venv.root))


def test_the_wheel_carries_the_license_and_bounded_requirements(venv: Venv) -> None:
    probe = ("import json; from importlib import metadata; d = metadata.distribution('k3s-dr'); "
             "print(json.dumps({'license': d.metadata['License-Expression'], 'requires': d.requires, "
             "'files': [str(f) for f in d.files if 'licenses' in str(f)]}))")
    found = json.loads(_ok(_run([venv.python, "-c", probe], timeout=60, cwd=venv.root)))
    assert found["license"] == "Apache-2.0"
    assert found["files"] == [f"k3s_dr-{dr_lib.__version__}.dist-info/licenses/LICENSE"]
    unbounded = [r for r in found["requires"] if "==" not in r and not ("<" in r and ">=" in r)
                 and not r.startswith("k3s-dr[")]
    assert unbounded == [], "every requirement needs a lower and an upper bound"


def test_the_wheel_ships_the_runbook_the_alerts_link_to(venv: Venv) -> None:
    probe = "from dr_lib.metrics.assets.runbook import shipped_runbook; print(shipped_runbook(), end='')"
    shipped = _ok(_run([venv.python, "-c", probe], timeout=60, cwd=venv.root))
    assert (venv.root / "share" / "doc" / "k3s-dr" / "runbook.md").is_file()
    assert shipped == (REPO / "docs" / "runbook.md").read_text()


def test_version(venv: Venv) -> None:
    assert _ok(_run([venv.k3s_dr, "--version"], timeout=60, cwd=venv.root)) == f"k3s-dr, version {dr_lib.__version__}\n"


@pytest.mark.parametrize("command", PRODUCT_COMMANDS)
def test_product_commands_answer_help(venv: Venv, command: str) -> None:
    out = _ok(_run([venv.k3s_dr, command, "--help"], timeout=60, cwd=venv.root))
    assert out.startswith(f"Usage: k3s-dr {command} ")


def test_an_s3_target_without_the_s3_extra_is_one_line_naming_it(venv: Venv, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"backup: {{dir: {tmp_path / 'backups'}}}\n"
                      "offsite: {targets: {far: {type: s3, bucket: dr-archives, endpoint_url: 'http://127.0.0.1:9'}}}\n")
    result = _run([venv.k3s_dr, "--config", config, "pull", "--json"], timeout=60, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (ExitCode.ENVIRONMENT, "")
    assert result.stderr == ("k3s-dr: error: offsite target 'far' (type s3) needs boto3, which is not installed: "
                             "pip install 'k3s-dr[s3]'\n")


def test_help_lists_the_testbed_commands_and_the_extra(venv: Venv) -> None:
    lines = _ok(_run([venv.k3s_dr, "--help"], timeout=60, cwd=venv.root)).splitlines()
    for name in ("cluster", "lab"):
        row = next(line.split() for line in lines if line.split()[:1] == [name])
        assert " ".join(row[1:]) == "(needs the test bed: pip install 'k3s-dr[testbed]')"


@pytest.mark.parametrize(("argv", "who"), [
    (["cluster", "up", "--name", "x"], "`k3s-dr cluster`"),
    (["cluster", "--help"], "`k3s-dr cluster`"),
    (["lab", "host", "up", "--name", "x"], "`k3s-dr lab`"),
])
def test_testbed_commands_fail_with_one_line_naming_the_extra(venv: Venv, argv: list[str], who: str) -> None:
    result = _run([venv.k3s_dr, *argv], timeout=60, cwd=venv.root)
    assert result.returncode == ExitCode.ENVIRONMENT
    assert result.stdout == ""
    assert result.stderr == f"k3s-dr: error: {who} {EXTRA_LINE}\n"


@pytest.mark.parametrize(("options", "who"), [
    (["--cluster", "local"], "the local cluster provider"),
    (["--cluster", "k3d"], "the k3d cluster provider"),
    # The kubeconfig provider is the product's own; the real node is not, and is refused before any step.
    (["--cluster", "kubeconfig", "--kubeconfig", "/nonexistent/kubeconfig", "--real-node"],
     "the real node (--real-node)"),
])
def test_a_drill_that_needs_the_testbed_names_the_extra(venv: Venv, tmp_path: Path, options: list[str],
                                                        who: str) -> None:
    result = _run([venv.k3s_dr, "drill", *options, "--reports", tmp_path, "--json"], timeout=120, cwd=tmp_path)
    assert result.returncode == ExitCode.ENVIRONMENT, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"k3s-dr: error: {who} {EXTRA_LINE}"


def _seed(kube: Kube, ns: str) -> dict[str, Any]:
    """A namespace with a ConfigMap, a Secret and a Service, all labelled for the backup's selector."""
    meta = {"labels": {LABEL: ns}}
    create(kube, "/api/v1/namespaces", {"metadata": {"name": ns, **meta}})
    api = f"/api/v1/namespaces/{ns}"
    token = secrets.token_hex(8)
    create(kube, f"{api}/configmaps", {"metadata": {"name": "settings", **meta}, "data": {"mode": "wheel", "n": "3"}})
    create(kube, f"{api}/secrets", {"metadata": {"name": "creds", **meta},
                                    "data": {"token": base64.b64encode(token.encode()).decode()}})
    create(kube, f"{api}/services", {"metadata": {"name": "web", **meta},
                                     "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080}]}})
    return _read(kube, ns)


def _read(kube: Kube, ns: str) -> dict[str, Any]:
    api = f"/api/v1/namespaces/{ns}"
    return {"configmap": kube.get(f"{api}/configmaps/settings")["data"],
            "secret": kube.get(f"{api}/secrets/creds")["data"],
            "service": [(p["port"], p["protocol"]) for p in kube.get(f"{api}/services/web")["spec"]["ports"]]}


def _gone(kube: Kube, path: str) -> bool:
    return kube.request("GET", path).status == 404


def test_backup_and_restore_from_the_wheel(venv: Venv, cluster_factory: Any, tmp_path: Path) -> None:
    handle = cluster_factory(nodes=1)
    config = write_config(tmp_path / "k3s-dr")
    env = isolated_env(tmp_path / "k3s-dr", K3S_DR_METRICS_TEXTFILE=str(tmp_path / "k3s_dr.prom"))
    ns = f"wheel-{secrets.token_hex(3)}"
    with Kube.from_kubeconfig(handle.kubeconfig) as kube:
        seeded = _seed(kube, ns)

        backup = json.loads(_ok(_run([venv.k3s_dr, "--config", config, "backup", "--kubeconfig", handle.kubeconfig,
                                      "--selector", f"{LABEL}={ns}", "--no-datastore", "--json"],
                                     timeout=300, cwd=tmp_path, env=env)))
        archive = Path(backup["archive"])
        assert backup["promoted"] is True and backup["objects"] == 4  # the namespace and its three objects
        verified = json.loads(_ok(_run([venv.k3s_dr, "--config", config, "verify", archive, "--json"],
                                       timeout=120, cwd=tmp_path, env=env)))
        assert verified["ok"] is True, verified

        kube.request("DELETE", f"/api/v1/namespaces/{ns}")
        wait_for(lambda: _gone(kube, f"/api/v1/namespaces/{ns}"), 120, f"namespace {ns} to be deleted")

        restore = json.loads(_ok(_run([venv.k3s_dr, "--config", config, "restore", archive, "--kubeconfig",
                                       handle.kubeconfig, "--json"], timeout=300, cwd=tmp_path, env=env)))
        assert restore["complete"] is True and restore["counts"]["failed"] == 0, restore
        assert restore["counts"]["created"] == 4, restore
        assert _read(kube, ns) == seeded
