"""Benchmark: 24 hourly offsite pushes of an unchanged cluster — restic (dedup) vs plain archives on S3.

    .venv/bin/python bench/offsite.py --objects 10000 --backups 24

Starts a FRESH local cluster with N ConfigMaps, a real S3 server (versitygw on loopback) with
two buckets, then runs the hourly cycle --backups times on the unchanged cluster:
`k3s-dr backup --json` → `k3s-dr push --target plain` (the baseline: each archive stored
whole, age-encrypted, on S3) → `k3s-dr push --target restic` (the archive's members in a
restic repository on the same S3 server). Bytes stored remotely are the sizes of the files
the S3 server holds for each bucket (what a provider bills), measured after the last push.
Push times are wall times of the CLI process (including its start), median over the runs.
The LAST line printed is one JSON object; the lines before it give the ratios.
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
from pathlib import Path
from typing import Any

import pyrage
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.backup import populate  # noqa: E402
from dr_lib.config import OffsiteTargetConfig  # noqa: E402
from dr_lib.kube.client import Kube  # noqa: E402
from dr_lib.offsite.s3client import make_client  # noqa: E402
from k3s_dr_testbed.clusters import ClusterSpec, start_cluster  # noqa: E402
from k3s_dr_testbed.s3.server import start_s3_server  # noqa: E402

K3S_DR = str(Path(sys.executable).parent / "k3s-dr")
ACCESS, SECRET = "BENCHACCESS", "bench-secret-key-0123456789"


def _config(work: Path, endpoint: str, recipient: str, backups: int) -> Path:
    (work / "restic.pass").write_text("bench restic password\n")
    keep = {"keep": backups + 10, "keep_daily": 0, "keep_weekly": 0, "timeout": "10m"}
    config = {
        "backup": {"dir": str(work / "backups"), "keep": 2, "lock_file": str(work / "k3s-dr.lock"),
                   "log_file": str(work / "k3s-dr.log"), "k3s_data_dir": str(work / "no-k3s")},
        # metrics state and the push record stay in the work directory, not the machine's /var/lib/k3s-dr
        "restore": {"state_dir": str(work / "state")},
        "offsite": {"encrypt": "required", "recipients": [recipient], "identity_file": str(work / "identity.txt"),
                    "targets": {"plain": {"bucket": "plain-archives", "endpoint_url": endpoint, **keep},
                                "restic": {"type": "restic", "repository": f"s3:{endpoint}/restic-repo/k3s-dr",
                                           "password_file": str(work / "restic.pass"), **keep}}},
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(config: Path, *args: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    done = subprocess.run([K3S_DR, "--config", str(config), *args, "--json"], env=env, capture_output=True,
                          text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"k3s-dr {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


def _stored(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10000)
    parser.add_argument("--backups", type=int, default=24)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="k3s-dr-bench-offsite-"))
    identity = pyrage.x25519.Identity.generate()
    (work / "identity.txt").write_text(f"{identity}\n")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET}
    server = start_s3_server(work / "s3", access_key=ACCESS, secret_key=SECRET)
    handle = start_cluster(ClusterSpec(f"bench-offsite-{os.getpid()}", nodes=1, owned_by_process=True))
    try:
        os.environ.update(AWS_ACCESS_KEY_ID=ACCESS, AWS_SECRET_ACCESS_KEY=SECRET)
        client = make_client(OffsiteTargetConfig(bucket="plain-archives", endpoint_url=server.endpoint))
        for bucket in ("plain-archives", "restic-repo"):
            client.create_bucket(Bucket=bucket)
        config = _config(work, server.endpoint, str(identity.to_public()), args.backups)
        with Kube.from_kubeconfig(handle.kubeconfig, pool_size=16) as kube:
            started = time.monotonic()
            populate(kube, 0, args.objects, spread=0)
            print(f"created {args.objects} ConfigMaps in {time.monotonic() - started:.1f} s", flush=True)
        rows = []
        for number in range(args.backups):
            # --no-push: each push is timed on its own below, per target
            backup_s, backup = _run(config, "backup", "--kubeconfig", str(handle.kubeconfig), "--no-push", env=env)
            plain_s, plain = _run(config, "push", "--target", "plain", "--no-retention", env=env)
            restic_s, restic = _run(config, "push", "--target", "restic", "--no-retention", env=env)
            rows.append({"backup_s": backup_s, "plain_s": plain_s, "restic_s": restic_s,
                         "archive_bytes": backup["bytes"], "objects": backup["objects"],
                         "restic_added": restic["targets"][0]["push"]["bytes_sent"],
                         "plain_sent": plain["targets"][0]["push"]["bytes_sent"]})
            print(f"hour {number + 1:2d}: archive {backup['bytes']:,} B ({backup['objects']} objects, "
                  f"backup {backup_s:.1f} s); push plain {plain_s:.2f} s ({rows[-1]['plain_sent']:,} B sent), "
                  f"restic {restic_s:.2f} s ({rows[-1]['restic_added']:,} B new before compression)", flush=True)
        plain_bytes = _stored(server.directory / "plain-archives")
        restic_bytes = _stored(server.directory / "restic-repo")
    finally:
        handle.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    plain_median = statistics.median(r["plain_s"] for r in rows)
    restic_median = statistics.median(r["restic_s"] for r in rows[1:] or rows)
    result = {
        "objects": args.objects, "backups": args.backups, "archive_bytes": rows[-1]["archive_bytes"],
        "plain_stored_bytes": plain_bytes, "restic_stored_bytes": restic_bytes,
        "restic_vs_plain_bytes": round(restic_bytes / plain_bytes, 4),
        "plain_push_s_median": round(plain_median, 3), "restic_push_s_median": round(restic_median, 3),
        "restic_first_push_s": round(rows[0]["restic_s"], 3),
        "restic_vs_plain_push_time": round(restic_median / plain_median, 3),
        "restic_added_bytes_after_first": [r["restic_added"] for r in rows[1:]],
        "backup_s_median": round(statistics.median(r["backup_s"] for r in rows), 3),
    }
    print(f"stored after {args.backups} hourly pushes: plain archives {plain_bytes:,} B, restic {restic_bytes:,} B "
          f"→ restic/plain = {result['restic_vs_plain_bytes']:.3f} ({plain_bytes / max(restic_bytes, 1):.1f}x less)")
    print(f"push time (median, CLI wall): plain {plain_median:.2f} s, restic {restic_median:.2f} s "
          f"→ restic/plain = {result['restic_vs_plain_push_time']:.2f}; "
          f"restic's first push {rows[0]['restic_s']:.2f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
