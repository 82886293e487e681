"""`k3s-dr cluster up|down|status|list|build`: local clusters for operators and tests."""

from __future__ import annotations

from typing import Any

import click

from dr_lib.cli.common import print_json
from dr_lib.cli.params import DURATION
from dr_lib.config import parse_duration
from k3s_dr_testbed.clusters.build import build_binaries
from k3s_dr_testbed.clusters.cleanup import sweep_stale
from k3s_dr_testbed.clusters.local import LocalCluster, open_local, start_local
from k3s_dr_testbed.clusters.readiness import probe_readyz
from k3s_dr_testbed.clusters.spec import DEFAULT_NODES, ClusterSpec, clusters_root
from k3s_dr_testbed.clusters.state import ClusterState, iter_states
from k3s_dr_testbed.clusters.versions import accepted_text, supported

_VERSION_HELP = ("Kubernetes release: a supported minor (1.37), its exact patch (1.37.2), newest or oldest "
                 "[default: newest; `k3s-dr cluster versions` lists them].")


def _progress(line: str) -> None:
    click.echo(f"k3s-dr: {line}", err=True)


def _up_json(handle: LocalCluster) -> dict[str, Any]:
    return {"name": handle.name, "kubeconfig": str(handle.kubeconfig), "server": handle.server,
            "kubernetes_version": handle.kubernetes_version, "seconds": handle.seconds, "dir": str(handle.dir),
            "db_path": str(handle.db_path), "nodes": handle.state.nodes, "real_node": handle.state.real_node,
            "versions": handle.state.versions}


def _state_json(state: ClusterState, *, probe: bool) -> dict[str, Any]:
    alive = state.alive_processes()
    status = state.status if state.status != "running" or alive else "crashed"
    if status == "running" and len(alive) < len(state.processes):
        status = "degraded"
    result: dict[str, Any] = {
        "name": state.name, "status": status, "dir": state.dir, "server": state.server,
        "kubeconfig": state.kubeconfig, "kubernetes_version": state.versions.get("kubernetes", ""),
        "nodes": state.nodes, "real_node": state.real_node, "ports": state.ports,
        "processes": [{"name": p.name, "pid": p.pid, "alive": p in alive} for p in state.processes],
        "owner_pid": state.owner.pid if state.owner else None, "created": state.created,
    }
    if probe and status in ("running", "degraded"):
        token_file = LocalCluster(state).dir / "server" / "cred" / "tokens.csv"
        token = token_file.read_text().split(",", 1)[0] if token_file.exists() else ""
        code, body = probe_readyz("127.0.0.1", state.ports["apiserver"], token,
                                  str(LocalCluster(state).dir / "server" / "tls" / "server-ca.crt"), timeout=3.0)
        result["readyz"] = body.strip() if code == 200 else f"HTTP {code}: {body.strip()[:200]}"
    return result


@click.group("cluster")
def cluster() -> None:
    """Local Kubernetes clusters (kine + control plane + kwok nodes) for tests and drills."""


@cluster.command("up")
@click.option("--name", required=True, help="Cluster name (lowercase letters, digits, '-').")
@click.option("--nodes", type=int, default=DEFAULT_NODES, show_default=True, help="Fake (kwok) nodes.")
@click.option("--real-node", is_flag=True, help="Also run one real node (kubelet + containerd).")
@click.option("--port", "api_port", type=int, default=None, help="API server port [default: a free one].")
@click.option("--timeout", "timeout", type=DURATION, default="90s", show_default=True,
              help="How long to wait for the cluster to be ready: 90s, 5m; a plain number is seconds.")
@click.option("--kubernetes-version", default=None, metavar="VERSION",
              help=_VERSION_HELP + " A stopped cluster resumes on the release it was created with.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def up(name: str, nodes: int, real_node: bool, api_port: int | None, timeout: str,  # noqa: PLR0917
       kubernetes_version: str | None, as_json: bool) -> None:
    """Start a local cluster (or resume a stopped one of that name) and wait until ready."""
    handle = start_local(ClusterSpec(name, nodes=nodes, real_node=real_node, api_port=api_port,
                                     timeout_seconds=float(parse_duration(timeout)),
                                     kubernetes_version=kubernetes_version))
    if as_json:
        print_json(_up_json(handle))
        return
    click.echo(f"cluster {handle.name} ready in {handle.seconds:.1f} s: {handle.server} "
               f"({handle.kubernetes_version})\nexport KUBECONFIG={handle.kubeconfig}")


@cluster.command("down")
@click.option("--name", required=True)
@click.option("--keep-dir", is_flag=True, help="Stop the processes but keep the directory (resume with `up`).")
@click.option("--json", "as_json", is_flag=True)
def down(name: str, keep_dir: bool, as_json: bool) -> None:
    """Stop a local cluster and remove its directory."""
    handle = open_local(name)
    if keep_dir:
        handle.stop_control_plane()
    else:
        handle.stop()
    if as_json:
        print_json({"name": name, "stopped": True, "removed": not keep_dir, "dir": str(handle.dir)})
    else:
        click.echo(f"cluster {name} stopped" + ("" if keep_dir else f"; removed {handle.dir}"))


@cluster.command("status")
@click.option("--name", required=True)
@click.option("--json", "as_json", is_flag=True)
def status(name: str, as_json: bool) -> None:
    """Show one local cluster: processes, ports, readiness."""
    result = _state_json(open_local(name).state, probe=True)
    if as_json:
        print_json(result)
        return
    click.echo(f"{result['name']}: {result['status']} {result['server']} readyz={result.get('readyz', '-')}")
    for process in result["processes"]:
        click.echo(f"  {process['name']:<24} pid {process['pid']:<8} {'alive' if process['alive'] else 'dead'}")


@cluster.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_clusters(as_json: bool) -> None:
    """List local clusters (and remove those left behind by killed test runs)."""
    root = clusters_root()
    swept = sweep_stale(root)
    clusters = [_state_json(state, probe=False) for state in iter_states(root)]
    if as_json:
        print_json({"clusters": clusters, "swept": swept})
        return
    for name in swept:
        click.echo(f"removed stale cluster {name} (its test run is gone)", err=True)
    if not clusters:
        click.echo("no local clusters")
    for item in clusters:
        click.echo(f"{item['name']:<24} {item['status']:<9} {item['server'] or '-':<28} {item['dir']}")


@cluster.command("build")
@click.option("--kubernetes-version", default=None, metavar="VERSION", help=_VERSION_HELP)
@click.option("--json", "as_json", is_flag=True)
def build(kubernetes_version: str | None, as_json: bool) -> None:
    """Build one release's pinned binaries into the cache (a no-op when current; other releases' entries stay)."""
    result = build_binaries(progress=_progress, kubernetes_version=kubernetes_version)
    if as_json:
        print_json(result.to_json())
        return
    click.echo(f"{result.action}: {result.bin_dir} ({result.seconds:.1f} s)")


@cluster.command("versions")
@click.option("--json", "as_json", is_flag=True)
def versions_command(as_json: bool) -> None:
    """List the supported Kubernetes releases (the newest is the default)."""
    releases = supported()
    if as_json:
        print_json({"releases": [r.to_json() for r in releases], "default": releases[-1].minor,
                    "oldest": releases[0].minor})
        return
    for release in releases:
        default = "  (default)" if release == releases[-1] else ""
        click.echo(f"{release.minor}  {release.kubernetes:<9} k3d: {release.k3s_image}{default}")
    click.echo(f"accepted by --kubernetes-version: {accepted_text(releases)}")


COMMANDS: list[click.Command] = [cluster]
