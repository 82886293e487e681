"""Component command lines (pure): loopback everywhere, our ports, k3s's layout and service CIDR."""

from pathlib import Path

from k3s_dr_testbed.clusters import components as cmd

PORTS = {"kine": 21001, "kine_metrics": 21002, "apiserver": 21003, "controller_manager": 21004,
         "scheduler": 21005, "kwok": 21006}
BIN = Path("/bin-dir")
V35, V37 = "v1.35.4", "v1.37.2"
LAYOUT = cmd.Layout(Path("/c/demo"))


def flags(argv: list[str]) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)


def test_kine_uses_the_k3s_datastore_path_and_binds_both_ports_to_loopback() -> None:
    f = flags(cmd.kine_argv(BIN, LAYOUT, PORTS))
    assert f["endpoint"].startswith("sqlite:///c/demo/server/db/state.db?_journal=WAL")
    assert f["listen-address"] == "127.0.0.1:21001"
    assert f["metrics-bind-address"] == "127.0.0.1:21002"  # kine's default is :8080 on all interfaces


def test_apiserver_is_loopback_only_with_rbac_tokens_and_the_k3s_service_cidr() -> None:
    f = flags(cmd.apiserver_argv(BIN, LAYOUT, PORTS, V37))
    assert f["bind-address"] == f["advertise-address"] == "127.0.0.1"
    assert f["secure-port"] == "21003"
    assert f["etcd-servers"] == "http://127.0.0.1:21001"
    assert f["authorization-mode"] == "RBAC"
    assert f["service-cluster-ip-range"] == "10.43.0.0/16"
    assert f["kubelet-preferred-address-types"] == "Hostname"
    assert f["token-auth-file"] == "/c/demo/server/cred/tokens.csv"
    assert f["cert-dir"] == "/c/demo/server/tls"


def test_apiserver_flags_that_differ_by_release() -> None:
    assert flags(cmd.apiserver_argv(BIN, LAYOUT, PORTS, V37))["endpoint-reconciler-type"] == "none"
    assert "endpoint-reconciler-type" not in flags(cmd.apiserver_argv(BIN, LAYOUT, PORTS, V35))


def test_controller_manager_keeps_node_lifecycle_and_binds_loopback() -> None:
    argv = cmd.controller_manager_argv(BIN, LAYOUT, PORTS, "demo", V37)
    f = flags(argv)
    assert f["controllers"] == "*,-nodeipam"  # 1.37 has no cloud-node-lifecycle to turn off
    assert flags(cmd.controller_manager_argv(BIN, LAYOUT, PORTS, "demo", V35))["controllers"] == \
        "*,-nodeipam,-cloud-node-lifecycle"
    assert len([a for a in argv if a.startswith("--controllers=")]) == 1
    assert f["leader-elect"] == "false"
    assert (f["bind-address"], f["secure-port"]) == ("127.0.0.1", "21004")


def test_scheduler_and_kwok_bind_loopback_on_their_ports() -> None:
    f = flags(cmd.scheduler_argv(BIN, LAYOUT, PORTS))
    assert (f["bind-address"], f["secure-port"]) == ("127.0.0.1", "21005")
    k = flags(cmd.kwok_argv(BIN, LAYOUT, PORTS))
    assert k["server-address"] == "127.0.0.1:21006"
    assert k["manage-nodes-with-annotation-selector"] == "kwok.x-k8s.io/node=fake"
    assert k["config"] == "/c/demo/kwok/kwok.yaml"  # never the user's ~/.kwok/kwok.yaml


def test_components_use_the_multi_call_binary_when_no_symlink_exists(tmp_path: Path) -> None:
    argv = cmd.apiserver_argv(tmp_path, LAYOUT, PORTS, V37)
    assert argv[:2] == [str(tmp_path / "kube-control-plane"), "kube-apiserver"]
    (tmp_path / "kube-control-plane").write_text("")
    (tmp_path / "kube-apiserver").symlink_to("kube-control-plane")
    assert cmd.apiserver_argv(tmp_path, LAYOUT, PORTS, V37)[0] == str(tmp_path / "kube-apiserver")


def test_every_port_name_is_used() -> None:
    used = " ".join(cmd.kine_argv(BIN, LAYOUT, PORTS) + cmd.apiserver_argv(BIN, LAYOUT, PORTS, V37)
                    + cmd.controller_manager_argv(BIN, LAYOUT, PORTS, "d", V37) + cmd.scheduler_argv(BIN, LAYOUT, PORTS)
                    + cmd.kwok_argv(BIN, LAYOUT, PORTS))
    assert all(str(PORTS[name]) in used for name in cmd.PORT_NAMES)
