"""The pytest plugin (top-level conftest.py): e2e tests are skipped unless asked for, and run last."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The sample skips its e2e test by design: judged here is that skip, not CI's rule against skips.
ENV = {**{k: v for k, v in os.environ.items() if k != "CI"}, "PYTHONPATH": str(REPO)}
TESTS = textwrap.dedent("""
    import pytest

    @pytest.mark.e2e
    def test_drill():
        pass

    def test_plain():
        pass
""")


def run_pytest(tmp_path: Path, *extra: str) -> str:
    (tmp_path / "test_sample.py").write_text(TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-v", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "-c", os.devnull, "-o", "markers=e2e", str(tmp_path / "test_sample.py"), *extra],
        capture_output=True, text=True, timeout=120, env=ENV, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_e2e_is_skipped_by_default_with_the_reason(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, "-rs")
    assert "test_plain PASSED" in out
    assert "test_drill SKIPPED" in out and "--run-e2e" in out


def test_run_e2e_runs_it_last(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, "--run-e2e", "-rA")
    assert out.index("test_plain PASSED") < out.index("test_drill PASSED")


def pytest_with_plugin(tmp_path: Path, tests: str, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(tests)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-v", "-p", "no:cacheprovider", *options, "-c", os.devnull,
         "--rootdir", str(tmp_path), str(tmp_path / "test_sample.py")],
        capture_output=True, text=True, timeout=120, env=ENV, check=False)


def test_unknown_provider_is_a_usage_error(tmp_path: Path) -> None:
    result = pytest_with_plugin(tmp_path, TESTS, "--cluster=nope")
    assert result.returncode == 4
    assert "invalid choice: 'nope'" in result.stderr


def test_an_unsupported_kubernetes_version_is_a_usage_error_with_the_list(tmp_path: Path) -> None:
    result = pytest_with_plugin(tmp_path, TESTS, "--kubernetes-version=1.34")
    assert result.returncode == 4
    assert "Kubernetes version '1.34' is not supported: accepted is 1.35 (v1.35.4)" in result.stderr


EACH_VERSION = textwrap.dedent("""
    def test_each(each_kubernetes_version):
        assert each_kubernetes_version
""")


def test_each_kubernetes_version_runs_on_the_oldest_and_newest_or_on_all(tmp_path: Path) -> None:
    tested = pytest_with_plugin(tmp_path, EACH_VERSION)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    ran = sorted(line.split("[", 1)[1].split("]", 1)[0] for line in tested.stdout.splitlines() if "PASSED" in line)
    assert ran == ["k8s-1.35", "k8s-1.37"]
    every = pytest_with_plugin(tmp_path, EACH_VERSION, "--all-kubernetes-versions")
    assert every.returncode == 0 and every.stdout.count("PASSED") == 3, every.stdout
