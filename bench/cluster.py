"""Benchmark: `k3s-dr cluster up/down` against the lab recipe's bare floor, in the same run.

    .venv/bin/python bench/cluster.py --runs 3

* ours: the CLI as a subprocess, `k3s-dr cluster up --json` (kine, API server, controller-manager,
  scheduler, kwok, 3 fake nodes Ready, default ServiceAccount) and `k3s-dr cluster down`;
* floor: what the lab recipe waits for: kine + kube-apiserver started with the same flags
  until /readyz answers ok (no controllers, no nodes), then SIGKILL.

Medians over --runs. The LAST line is one JSON object {"up_s", "down_s", "floor_up_s", ...};
the lines before give the ratios. Targets from issue 3: up < 15 s, down < 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from k3s_dr_testbed.clusters import components as cmd
from k3s_dr_testbed.clusters.binaries import binary_versions, locate_binaries
from k3s_dr_testbed.clusters.pki import ensure_admin_token, ensure_pki
from k3s_dr_testbed.clusters.ports import choose_ports
from k3s_dr_testbed.clusters.readiness import wait_readyz


def ours(home: Path, name: str) -> tuple[float, float]:
    env = {**os.environ, "K3S_DR_HOME": str(home)}
    started = time.monotonic()
    up = subprocess.run([sys.executable, "-m", "dr_lib", "cluster", "up", "--name", name, "--json"],
                        env=env, capture_output=True, text=True, check=True, timeout=120)
    up_s = time.monotonic() - started
    json.loads(up.stdout)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "dr_lib", "cluster", "down", "--name", name], env=env,
                   capture_output=True, check=True, timeout=60)
    return up_s, time.monotonic() - started


def floor(work: Path) -> float:
    bin_dir = locate_binaries()
    layout = cmd.Layout(work)
    layout.db_path.parent.mkdir(parents=True)
    pki = ensure_pki(layout.tls_dir, "floor")
    token = ensure_admin_token(pki)
    ports = dict(zip(cmd.PORT_NAMES, choose_ports(len(cmd.PORT_NAMES)), strict=True))
    started = time.monotonic()
    procs = [subprocess.Popen(cmd.kine_argv(bin_dir, layout, ports), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        time.sleep(0.2)
        apiserver = cmd.apiserver_argv(bin_dir, layout, ports, binary_versions(bin_dir).kubernetes)
        procs.append(subprocess.Popen(apiserver, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        wait_readyz("127.0.0.1", ports["apiserver"], token, str(pki.ca_cert), deadline=time.monotonic() + 60,
                    check_alive=lambda: None)
        return time.monotonic() - started
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="k3s-dr-bench-"))
    try:
        results = [ours(home, f"bench-{i}") for i in range(args.runs)]
        floors = []
        for i in range(args.runs):
            floors.append(floor(home / f"floor-{i}"))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    up_s = statistics.median(r[0] for r in results)
    down_s = statistics.median(r[1] for r in results)
    floor_s = statistics.median(floors)
    print(f"cluster up   {up_s:6.2f} s  (target < 15 s)   {up_s / floor_s:4.2f}x the bare kine+apiserver /readyz floor "
          f"({floor_s:.2f} s)")
    print(f"cluster down {down_s:6.2f} s  (target < 5 s)")
    print(json.dumps({"up_s": round(up_s, 2), "down_s": round(down_s, 2), "floor_up_s": round(floor_s, 2),
                      "up_over_floor": round(up_s / floor_s, 2), "runs": args.runs,
                      "up_all": [round(r[0], 2) for r in results], "down_all": [round(r[1], 2) for r in results]}))


if __name__ == "__main__":
    main()
