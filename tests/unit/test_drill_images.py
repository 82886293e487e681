"""The drill's images: named for an existing cluster (refused up front, naming the pods, when not),
the test bed's locally built ones for local and k3d, and `drill.images` checked as hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

from dr_lib.cluster import provider
from dr_lib.cluster.kubeconfig import named_images
from dr_lib.config import load_config
from dr_lib.drill.app import image_users
from dr_lib.drill.images import ROLES
from dr_lib.drill.run import DrillSettings
from dr_lib.errors import ConfigError, UsageError
from k3s_dr_testbed import provider as testbed

ROLE_NAMES = tuple(ROLES)


def test_an_existing_cluster_without_named_images_is_refused_naming_every_pod() -> None:
    with pytest.raises(UsageError) as refused:
        named_images(ROLE_NAMES, {"app": "", "db_dump": ""}, image_users())
    message = str(refused.value)
    for pod in ("Deployment insightlearn/web", "Deployment insightlearn/api", "StatefulSet insightlearn-data/db",
                "Deployment insightlearn-ops/metrics-exporter", "CronJob insightlearn-data/db-dump"):
        assert pod in message
    assert "accepted is drill.images.app, drill.images.db_dump" in message
    assert "K3S_DR_DRILL_IMAGES_APP" in message and "--cluster local|k3d" in message


def test_named_images_are_pulled_and_db_dump_falls_back_to_app() -> None:
    images = named_images(ROLE_NAMES, {"app": "mirror.internal/python:3.11", "db_dump": ""}, image_users())
    assert images.refs == {"app": "mirror.internal/python:3.11", "db_dump": "mirror.internal/python:3.11"}
    assert images.pull_policy == provider.PULLED == "IfNotPresent"
    only_dump = {"app": "", "db_dump": "mirror.internal/tools:1"}
    with pytest.raises(UsageError, match=r"\(app: Deployment insightlearn/web"):
        named_images(ROLE_NAMES, only_dump, image_users())


def test_the_check_runs_before_anything_starts() -> None:
    kubeconfig = Path("/nonexistent/kubeconfig.yaml")  # never opened: the check is pure
    settings = DrillSettings(provider="kubeconfig", destroy="wipe", kubeconfig=kubeconfig)
    with pytest.raises(UsageError, match="config names none for the drill's pods"):
        settings.check()
    DrillSettings(provider="kubeconfig", destroy="wipe", kubeconfig=kubeconfig,
                  images={"app": "docker.io/local/debian:bookworm"}).check()
    # a drill of a real archive runs the archive's own workloads: no drill images needed
    DrillSettings(provider="kubeconfig", destroy="fresh", kubeconfig=kubeconfig, archive=Path("/a.tar.gz")).check()


@pytest.mark.parametrize(("settings", "message"), [
    (DrillSettings(archive=Path("/a.tar.gz"), from_remote="lab"), "both --archive and --from"),
    (DrillSettings(nodes=0), "--nodes 0 leaves the cluster without a node"),
])
def test_settings_refused(settings: DrillSettings, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        settings.check()


def test_zero_simulated_nodes_with_the_real_node_is_accepted() -> None:
    DrillSettings(nodes=0, real_node=True).check()


@pytest.mark.parametrize("value", [
    "docker.io/local/debian:bookworm", "registry.internal:5000/team/python:3.11-slim", "python",
    "ghcr.io/org/img@sha256:" + "0" * 64,
])
def test_drill_images_accepts_image_references(value: str) -> None:
    config = load_config("/dev/null", env={"K3S_DR_DRILL_IMAGES_APP": value, "K3S_DR_DRILL_IMAGES_DB_DUMP": value})
    assert config.drill.images.app == value == config.drill.images.db_dump


@pytest.mark.parametrize("value", [
    "debian bookworm", "debian:bookworm;rm -rf /", "$(id)", "img\nimage: other", "UPPER/case:1", "-flag",
    "a" * 300, "img:tag:tag", "../../etc/passwd",
])
def test_drill_images_refuses_what_is_no_image_reference(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config("/dev/null", env={"K3S_DR_DRILL_IMAGES_APP": value})
    assert "drill.images.app" in str(refused.value) and "image reference" in str(refused.value)


def test_drill_images_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("drill:\n  images:\n    app: mirror.internal/python:3\n    surprise: x\n")
    with pytest.raises(ConfigError, match=r"drill\.images\.surprise"):
        load_config(path, env={})
    path.write_text("drill:\n  images:\n    app: mirror.internal/python:3\n")
    assert load_config(path, env={}).drill.images.app == "mirror.internal/python:3"


def test_the_door_answers_for_an_existing_cluster_without_the_test_bed(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_testbed(_needed_by: str) -> None:
        raise AssertionError("the existing-cluster provider must not load the test bed")

    monkeypatch.setattr(provider, "_testbed", no_testbed)
    images = provider.drill_images("kubeconfig", ROLE_NAMES, {"app": "mirror.internal/python:3"}, image_users())
    assert images.pull_policy == "IfNotPresent"

    class ExistingHandle:  # only .name is read: nothing is loaded into someone else's nodes
        name = "staging"

    load = provider.load_images("kubeconfig", ExistingHandle(), images, 0.0)  # type: ignore[arg-type]
    assert load.how.startswith("none: named in drill.images") and load.images == ("mirror.internal/python:3",)
    with pytest.raises(UsageError, match="'openstack' is unknown"):
        provider.drill_images("openstack", ROLE_NAMES, {}, {})


def test_the_test_bed_offers_its_own_image_loaded_never_pulled() -> None:
    images = provider.drill_images("local", ROLE_NAMES, {}, image_users())
    assert images.refs == {"app": "docker.io/local/debian:bookworm", "db_dump": "docker.io/local/debian:bookworm"}
    assert images.pull_policy == provider.LOADED == "Never"
    assert "debootstrap" in images.origin
    assert provider.drill_images("k3d", ROLE_NAMES, {}, image_users()) == images


def test_the_test_bed_loads_only_the_images_it_builds() -> None:
    foreign = provider.ImageSet({"app": "mirror.internal/python:3"}, provider.LOADED, "x")
    with pytest.raises(UsageError, match=r"cannot load mirror\.internal/python:3: accepted are the images it builds"):
        testbed.load_images("k3d", object(), foreign, 0.0)  # type: ignore[arg-type]
    own = provider.ImageSet({"app": "docker.io/local/debian:bookworm"}, provider.LOADED, "x")
    with pytest.raises(UsageError, match="not a k3d cluster of the test bed"):
        testbed.load_images("k3d", object(), own, 0.0)  # type: ignore[arg-type]
