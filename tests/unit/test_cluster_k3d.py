"""k3d command lines (pure): pinned image, no load balancer, our own kubeconfig."""

from pathlib import Path

import pytest

from dr_lib.errors import UsageError
from k3s_dr_testbed.clusters import versions
from k3s_dr_testbed.clusters.k3d import (
    K3S_IMAGE,
    K3S_IMAGE_ENV,
    create_argv,
    delete_argv,
    image_import_argv,
    k3s_image,
    kubeconfig_argv,
)


def test_create_pins_the_k3s_image_waits_and_skips_the_load_balancer() -> None:
    argv = create_argv("drill")
    assert argv[:4] == ["k3d", "cluster", "create", "drill"]
    assert argv[argv.index("--image") + 1] == K3S_IMAGE == versions.newest().k3s_image
    assert "--wait" in argv and "--no-lb" in argv
    assert argv[argv.index("--timeout") + 1] == "120s"
    assert argv[argv.index("--agents") + 1] == "0"


def test_create_never_touches_the_users_default_kubeconfig() -> None:
    argv = create_argv("drill")
    assert "--kubeconfig-update-default=false" in argv
    assert "--kubeconfig-switch-context=false" in argv


def test_nodes_are_one_server_plus_agents_and_the_api_port_is_loopback() -> None:
    argv = create_argv("drill", nodes=3, api_port=16443, image="rancher/k3s:v1.33.1-k3s1")
    assert argv[argv.index("--agents") + 1] == "2"
    assert argv[argv.index("--api-port") + 1] == "127.0.0.1:16443"
    assert argv[argv.index("--image") + 1] == "rancher/k3s:v1.33.1-k3s1"


def test_kubeconfig_and_delete_lines() -> None:
    assert kubeconfig_argv("drill", Path("/x/kc.yaml")) == ["k3d", "kubeconfig", "write", "drill", "--output",
                                                            "/x/kc.yaml"]
    assert delete_argv("drill") == ["k3d", "cluster", "delete", "drill"]


def test_image_import_loads_from_docker_straight_into_the_named_cluster() -> None:
    argv = image_import_argv("drill-abc-dst", ["local/debian:bookworm"])
    assert argv[:3] == ["k3d", "image", "import"]
    assert argv[3] == "local/debian:bookworm"
    assert argv[argv.index("--cluster") + 1] == "drill-abc-dst"
    # direct: no k3d-tools helper image to pull, no tarball left on a shared volume
    assert argv[argv.index("--mode") + 1] == "direct"
    assert image_import_argv("c", ["a:1", "b:2"])[3:5] == ["a:1", "b:2"]


def test_the_image_follows_the_asked_release_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(K3S_IMAGE_ENV, "rancher/k3s:v1.36.0-k3s1")
    assert k3s_image() == "rancher/k3s:v1.36.0-k3s1"  # the workflow's matrix entry when no release is asked
    assert k3s_image("oldest") == versions.oldest().k3s_image  # an asked release wins: the table's image
    with pytest.raises(UsageError, match=r"'1\.30' is not supported"):
        k3s_image("1.30")
