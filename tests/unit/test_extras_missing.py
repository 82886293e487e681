"""Every optional import, its extra missing: one line on stderr naming ``pip install 'k3s-dr[EXTRA]'``, exit 7.

A host without an extra is faked in a subprocess: a meta path hook (``HIDE``, a fake named as such)
makes the extra's modules unimportable before k3s-dr's own ``main`` runs the command. The wheel
test (tests/integration/test_wheel_install.py) shows the same for S3 and the test bed with the
modules really absent.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dr_lib.errors import ExitCode

# The fake: modules whose top-level name is in argv[1] (comma-separated) cannot be imported.
HIDE = """
import importlib.abc, sys
hidden = set(sys.argv[1].split(","))
class FakeMissingExtra(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, FakeMissingExtra())
for name in list(sys.modules):
    if name.split(".")[0] in hidden:
        del sys.modules[name]
"""
RUN_MAIN = HIDE + "from dr_lib.cli.main import main\nsys.exit(main(sys.argv[2:]))\n"
RESTIC_S3 = HIDE + """
from dr_lib.config import OffsiteTargetConfig
from dr_lib.errors import DRError
from dr_lib.offsite.restic_errors import credentials_env
try:
    credentials_env(OffsiteTargetConfig(type="restic", repository="s3:http://127.0.0.1:9/bucket1/repo"))
except DRError as exc:
    print(f"k3s-dr: error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)
"""
S3_CONFIG = ("backup: {{dir: {dir}}}\n"
             "offsite: {{targets: {{far: {{type: s3, bucket: dr-archives, endpoint_url: 'http://127.0.0.1:9'}}}}}}\n")

# extra, modules hidden, command line (CONFIG: a config with an S3 target), what the line says before the pip part
CASES = [
    ("s3", "boto3,botocore", ["--config", "CONFIG", "pull"],
     "offsite target 'far' (type s3) needs boto3, which is not installed"),
    ("s3", "boto3", ["--config", "CONFIG", "list", "--remote", "--target", "far"],
     "offsite target 'far' (type s3) needs boto3, which is not installed"),
    ("monitoring", "grafana_foundation_sdk", ["--config", "CONFIG", "metrics", "render", "--dir", "OUT"],
     "rendering the dashboard needs grafana-foundation-sdk, which is not installed"),
    ("checks", "xdist", ["check", "--workers", "2", "--hosts", "docker://a,docker://b"],
     "--workers 2 judges hosts in parallel with pytest-xdist, which is not installed (leave out --workers, or "
     "install it)"),
    ("testbed", "k3s_dr_testbed", ["cluster", "list"],
     "`k3s-dr cluster` needs the test bed (the 'testbed' extra; not installed here: k3s_dr_testbed)"),
    ("testbed", "k3s_dr_testbed", ["drill", "--cluster", "local", "--reports", "OUT"],
     "the local cluster provider needs the test bed (the 'testbed' extra; not installed here: k3s_dr_testbed)"),
]


def _run(code: str, hidden: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, hidden, *argv], capture_output=True, text=True, timeout=300,
                          cwd=cwd, check=False)


@pytest.mark.parametrize(("extra", "hidden", "argv", "said"), CASES, ids=[f"{c[0]}-{c[2][-1]}" for c in CASES])
def test_a_missing_extra_is_one_line_naming_it(tmp_path: Path, extra: str, hidden: str, argv: list[str],
                                               said: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(S3_CONFIG.format(dir=tmp_path / "backups"))
    argv = [{"CONFIG": str(config), "OUT": str(tmp_path / "out")}.get(arg, arg) for arg in argv]
    done = _run(RUN_MAIN, hidden, argv, tmp_path)
    # a drill prints its start on stderr before it needs the test bed: its last line is the error
    lines = done.stderr.splitlines()[-1:] if argv[0] == "drill" else done.stderr.splitlines()
    assert done.returncode == ExitCode.ENVIRONMENT, done.stderr
    assert done.stdout == "" or argv[-3:-2] == ["--remote"]  # list --remote lays out each target, errors too
    assert lines == [f"k3s-dr: error: {said}: pip install 'k3s-dr[{extra}]'"], done.stderr
    assert not (tmp_path / "out").exists()  # nothing half-made


def test_restic_on_s3_without_boto3_names_the_s3_extra(tmp_path: Path) -> None:
    done = _run(RESTIC_S3, "boto3,botocore", [], tmp_path)
    assert done.returncode == ExitCode.ENVIRONMENT
    assert done.stderr == ("k3s-dr: error: restic repository 's3:http://127.0.0.1:9/bucket1/repo''s AWS credentials "
                           "needs boto3, which is not installed: pip install 'k3s-dr[s3]'\n")


def test_a_module_missing_from_inside_an_extra_is_not_blamed_on_the_extra(tmp_path: Path) -> None:
    """jmespath is boto3's own dependency: hidden alone it is a broken install (an internal error), not a
    missing extra to install."""
    config = tmp_path / "config.yaml"
    config.write_text(S3_CONFIG.format(dir=tmp_path / "backups"))
    done = _run(RUN_MAIN, "jmespath", ["--config", str(config), "pull"], tmp_path)
    assert "k3s-dr[s3]" not in done.stderr and done.returncode == ExitCode.FAILURE
    assert "ModuleNotFoundError" in done.stderr
