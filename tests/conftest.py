"""The test tree's collection: ``tests/e2e`` also collects the drill's step tests from the package.

The steps live in ``dr_lib/drill/suite/test_steps.py`` because an installed ``k3s-dr drill`` runs
them without a checkout (``dr_lib/drill/runner.py``). Here they are collected from that very file,
as one more module of ``tests/e2e`` (node id ``dr_lib/drill/suite/test_steps.py::…``): one
definition, no copy and no re-export. ``tests/e2e/conftest.py`` registers the drill plugin for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

E2E_DIR = Path(__file__).resolve().parent / "e2e"


def step_module() -> Path:
    """The drill's step module, found without importing it (pytest imports it as a test module)."""
    spec = find_spec("dr_lib.drill.suite.test_steps")
    if spec is None or spec.origin is None:
        raise RuntimeError("dr_lib.drill.suite.test_steps is not installed")
    return Path(spec.origin).resolve()


class E2EDirectory(pytest.Dir):
    """``tests/e2e``: its own files, and first the drill's steps (the drill the other e2e tests build on)."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        yield pytest.Module.from_parent(self, path=step_module())
        yield from super().collect()


def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if path.resolve() == E2E_DIR:
        return E2EDirectory.from_parent(parent, path=path)
    return None
