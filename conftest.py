"""k3s-dr's pytest plugin: real clusters for tests.

Options: ``--cluster=local|k3d|kubeconfig`` (default ``local``), ``--kubeconfig-path`` for the
``kubeconfig`` provider, ``--kubernetes-version`` (the release of the clusters tests start; default
the newest supported), ``--all-kubernetes-versions``, ``--run-e2e``. Fixtures:

- ``cluster`` (session): one ready cluster; ``.kubeconfig``, ``.server``, ``.db_path`` (local);
- ``cluster_factory`` (per test) / ``session_cluster_factory``: ``factory(nodes=3, real_node=False,
  kubernetes_version=None)`` starts another fresh cluster, stopped when the test (session) ends;
- ``each_kubernetes_version`` (a parameter): a test that asks for it runs once per release CI builds
  (the oldest and the newest supported; every supported one with ``--all-kubernetes-versions``);
  ``cluster_of_each_version`` is a fresh cluster of that release;
- ``namespace`` (per test): a fresh namespace name in ``cluster``, deleted after the test;
- ``kube`` (session): a :class:`dr_lib.kube.client.Kube` for ``cluster``.

A provider that cannot run here (binaries not built, no k3d, no Docker engine) skips the
tests that need it with a reason naming the missing tool; with ``CI`` set it fails them instead,
and any skip not on ``tests/skip-allowlist.txt`` fails the run (``tests/skip_rule.py``). e2e
tests (marker ``e2e`` or under ``tests/e2e``) run only with ``--run-e2e`` or when named on the
command line, and run last.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dr_lib.cluster.kubeconfig import open_existing
from dr_lib.cluster.provider import PROVIDERS, ClusterSpec, start_cluster
from dr_lib.errors import UsageError
from dr_lib.kube.client import Kube
from k3s_dr_testbed.clusters import versions
from k3s_dr_testbed.clusters.spec import ToolMissing

pytest_plugins = ("tests.skip_rule",)  # no silent skips in CI


def unavailable(reason: str) -> None:
    """tests.skip_rule.unavailable, imported once pytest has loaded it as a plugin (assertion rewriting)."""
    from tests.skip_rule import unavailable as skip_or_fail  # noqa: PLC0415

    skip_or_fail(reason)

E2E_DIR = Path(__file__).parent / "tests" / "e2e"
# The operator's conformance suite judges a real host (systemd, k3s-dr installed) and stands alone
# with its own pytest.ini: `pytest tests/checks [--hosts=…]`. Collected from here (`pytest tests`,
# `pytest tests -k offsite`) it would judge whatever machine runs the project's tests.
collect_ignore = ["tests/checks"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("k3s-dr", "k3s-dr clusters")
    group.addoption("--cluster", choices=PROVIDERS, default="local",
                    help="cluster provider for tests: local (binaries), k3d, kubeconfig (existing cluster)")
    group.addoption("--kubeconfig-path", default=None,
                    help="kubeconfig of the existing cluster for --cluster=kubeconfig")
    group.addoption("--kubernetes-version", default=None, metavar="VERSION",
                    help="Kubernetes release of the clusters tests start (local, k3d): a supported minor, patch, "
                         f"newest or oldest [default: newest]; accepted: {versions.accepted_text()}")
    group.addoption("--all-kubernetes-versions", action="store_true", default=False,
                    help="tests over each Kubernetes version run on every supported release, not only the "
                         "oldest and the newest (each needs `k3s-dr cluster build --kubernetes-version V`)")
    group.addoption("--run-e2e", action="store_true", default=False, help="run the e2e drill tests (last)")


def pytest_configure(config: pytest.Config) -> None:
    try:  # an unsupported release stops the run at once, with the list of accepted ones
        versions.resolve(config.getoption("--kubernetes-version"))
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def releases_under_test(config: pytest.Config) -> tuple[versions.Release, ...]:
    return versions.supported() if config.getoption("--all-kubernetes-versions") else versions.tested()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "each_kubernetes_version" in metafunc.fixturenames:
        releases = releases_under_test(metafunc.config)
        metafunc.parametrize("each_kubernetes_version", [r.minor for r in releases],
                             ids=[f"k8s-{r.minor}" for r in releases])


def _is_e2e(item: pytest.Item) -> bool:
    return item.get_closest_marker("e2e") is not None


def _under_e2e_dir(path: Path) -> bool:
    try:
        path.resolve().relative_to(E2E_DIR.resolve())
    except ValueError:
        return False
    return True


def _e2e_named(config: pytest.Config) -> bool:
    """True when the command line names something inside tests/e2e (an explicit request)."""
    return any(_under_e2e_dir(Path(arg.split("::", 1)[0])) for arg in config.args)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _under_e2e_dir(Path(str(item.path))):
            item.add_marker(pytest.mark.e2e)
    if not (config.getoption("--run-e2e") or _e2e_named(config)):
        skip = pytest.mark.skip(reason="e2e drill test: pass --run-e2e (or name tests/e2e on the command line)")
        for item in items:
            if _is_e2e(item):
                item.add_marker(skip)
    items.sort(key=_is_e2e)  # stable: everything else first, e2e last


def _real_node_missing() -> str | None:
    try:
        from k3s_dr_testbed.realnode import host as realnode_host  # noqa: PLC0415 - optional, another engineer's module
    except ImportError:
        return "real node support (k3s_dr_testbed.realnode.node) is not installed"
    missing = getattr(realnode_host, "missing_requirements", lambda: [])()
    if missing:
        return "the real node needs: " + ", ".join(f"{m.tool} (apt-get install {m.package})" for m in missing)
    return None


class ClusterFactory:
    """Starts fresh clusters with the chosen provider and stops them all in :meth:`close`."""

    _counter = itertools.count()

    def __init__(self, provider: str, kubeconfig_path: str | None, kubernetes_version: str | None = None) -> None:
        self.provider = provider
        self.kubeconfig_path = kubeconfig_path
        self.kubernetes_version = kubernetes_version  # the default of every cluster this factory starts
        self.handles: list[Any] = []

    def __call__(self, *, nodes: int = 3, real_node: bool = False, name: str | None = None,
                 apiserver_flags: tuple[str, ...] = (), kine_flags: tuple[str, ...] = (),
                 kubernetes_version: str | None = None) -> Any:
        if self.provider == "kubeconfig":
            pytest.skip("--cluster=kubeconfig uses one existing cluster: it cannot start fresh ones")
        if (apiserver_flags or kine_flags) and self.provider != "local":
            pytest.skip(f"--cluster={self.provider}: only the local provider takes API server and kine flags")
        if real_node:
            missing = _real_node_missing()
            if missing:
                unavailable(missing)
        spec = ClusterSpec(name or f"pt{os.getpid()}-{next(self._counter)}", nodes=nodes, real_node=real_node,
                           owned_by_process=True, apiserver_flags=apiserver_flags, kine_flags=kine_flags,
                           kubernetes_version=kubernetes_version or self.kubernetes_version)
        try:
            handle = start_cluster(self.provider, spec, kubeconfig_path=self.kubeconfig_path)
        except ToolMissing as exc:
            unavailable(f"--cluster={self.provider} cannot run here: {exc}")
        self.handles.append(handle)
        return handle

    def close(self) -> None:
        errors = []
        while self.handles:
            handle = self.handles.pop()
            try:
                handle.stop()
            except Exception as exc:  # noqa: BLE001 - stop the others, then report
                errors.append(f"{handle.name}: {exc}")
        if errors:
            raise RuntimeError("stopping test clusters failed: " + "; ".join(errors))


def _factory(config: pytest.Config) -> ClusterFactory:
    return ClusterFactory(config.getoption("--cluster"), config.getoption("--kubeconfig-path"),
                          config.getoption("--kubernetes-version"))


@pytest.fixture(scope="session")
def session_cluster_factory(pytestconfig: pytest.Config) -> Iterator[ClusterFactory]:
    factory = _factory(pytestconfig)
    yield factory
    factory.close()


@pytest.fixture
def cluster_factory(pytestconfig: pytest.Config) -> Iterator[ClusterFactory]:
    factory = _factory(pytestconfig)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def cluster(pytestconfig: pytest.Config) -> Iterator[Any]:
    factory = _factory(pytestconfig)
    if factory.provider == "kubeconfig":
        handle = open_existing(factory.kubeconfig_path)
        yield handle
        handle.stop()  # deletes only the namespaces the tests created
        return
    yield factory()
    factory.close()


@pytest.fixture
def cluster_of_each_version(cluster_factory: ClusterFactory, each_kubernetes_version: str) -> Any:
    """A fresh cluster of the release this test instance is for (see ``each_kubernetes_version``)."""
    return cluster_factory(kubernetes_version=each_kubernetes_version)


@pytest.fixture(scope="session")
def kube(cluster: Any) -> Iterator[Kube]:
    with Kube.from_kubeconfig(cluster.kubeconfig) as client:
        yield client


@pytest.fixture
def namespace(cluster: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    name = cluster.create_namespace(request.node.name)
    yield name
    cluster.delete_namespace(name)
