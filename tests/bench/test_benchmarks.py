"""Every benchmark in bench/ runs, at a tiny size, so that none of them rots unseen (issue 19).

Each row runs one script as a program (``python bench/NAME.py ARGS``, as a person would), on
its own fresh clusters, and checks only what the script promises: exit status 0, a last line
that is one JSON object with the fields its Interface names, the sizes it was asked for. No
speed is judged here — at these sizes, on a shared machine, a ratio means nothing; the
numbers are printed for the log. ``scripts/test`` runs this tier as a stage of its own.

Adding a benchmark is one row of ``BENCHMARKS``; a script in bench/ with no row fails
``test_every_benchmark_has_a_row`` unless ``NOT_RUN`` says why.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
TIMEOUT_S = 900  # a deadline for a run that hangs; a tiny run takes well under a minute


@dataclass(frozen=True)
class Benchmark:
    script: str
    args: tuple[str, ...]
    fields: tuple[str, ...]  # the last line's JSON must have these (the Interface)
    sizes: tuple[tuple[str, int], ...] = ()  # fields that must equal what was asked for
    why: str = ""  # why these arguments


BENCHMARKS = (
    Benchmark("backup.py", ("--objects", "200", "--runs", "1"),
              ("objects", "ours_s", "baseline_s", "floor_s", "floor_process_s", "peak_rss_mb",
               "peak_rss_mb_by_objects", "ours_phases_s"), (("bench_objects", 200),),
              "200 objects: three backups, the seed's kubectl loop and both floors in ~30 s"),
    Benchmark("restore.py", ("--objects", "200", "--runs", "1"),
              ("objects", "ours_s", "baseline_s", "floor_s", "peak_rss_mb"), (("objects", 200 + 10 + 1),),
              "200 objects (+10 namespaces, 1 CRD): three fresh clusters, kubectl apply included"),
    Benchmark("cluster.py", ("--runs", "1"), ("up_s", "down_s", "floor_up_s"), (("runs", 1),),
              "one cluster up/down and one bare kine + API server"),
    Benchmark("offsite.py", ("--objects", "200", "--backups", "2"),
              ("plain_stored_bytes", "restic_stored_bytes", "plain_push_s_median", "restic_push_s_median"),
              (("objects", 200), ("backups", 2)), "two hourly cycles: a first restic push and an incremental one"),
    Benchmark("data.py", ("--volume-mb", "8", "--change-percent", "10", "--rows", "0", "--hourly", "2"),
              ("volume_mb", "full_backup_s", "zstd_baseline_s", "restic_full_s", "restic_restore_s",
               "incremental_backup_s", "incremental_bytes", "full_bytes", "restore_s", "unzstd_baseline_s",
               "hourly_total_bytes", "hourly_ratio"), (("volume_mb", 8),),
              "an 8 MB volume on a real node: full, incremental, restore, two hourly backups; no database part"),
    Benchmark("restore_journal.py", ("--objects", "200", "--runs", "1"),
              ("objects", "journaled_s", "baseline_s", "ratio"), (("objects", 200 + 10 + 1),),
              "200 objects (+10 namespaces, 1 CRD): one journaled and one baseline apply, each on a fresh cluster"),
    Benchmark("signing.py", ("--objects", "200", "--runs", "3"),
              ("objects", "write_ratio", "verify_ratio", "sign_ms", "check_ms", "first_key_load_ms"),
              (("objects", 200),), "200 objects: signed and unsigned writes and verifies, no cluster"),
)

# Scripts in bench/ this tier does not run yet, each with the reason.
NOT_RUN: dict[str, str] = {}


def last_json_line(output: str) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "the benchmark printed nothing"
    result = json.loads(lines[-1])
    assert isinstance(result, dict), f"the last line is {type(result).__name__}, not a JSON object"
    return result


def test_every_benchmark_has_a_row() -> None:
    scripts = {path.name for path in BENCH_DIR.glob("*.py") if not path.name.startswith("_")}
    rows = {bench.script for bench in BENCHMARKS}
    assert scripts - rows - set(NOT_RUN) == set(), "benchmarks no test runs"
    assert rows & set(NOT_RUN) == set(), "a benchmark both run and excused"
    assert rows | set(NOT_RUN) <= scripts, "rows for scripts that do not exist"


@pytest.mark.parametrize("bench", BENCHMARKS, ids=[b.script for b in BENCHMARKS])
def test_benchmark_runs_at_a_tiny_size(bench: Benchmark) -> None:
    done = subprocess.run([sys.executable, str(BENCH_DIR / bench.script), *bench.args], capture_output=True,
                          text=True, timeout=TIMEOUT_S, check=False, cwd=BENCH_DIR.parent)
    print(done.stdout)  # the ratios, for the CI log (pytest shows it with -s or on failure)
    assert done.returncode == 0, f"{bench.script} exited {done.returncode}:\n{done.stderr[-3000:]}"
    result = last_json_line(done.stdout)
    missing = [name for name in bench.fields if name not in result]
    assert not missing, f"{bench.script}'s last line lacks {missing}: {result}"
    for name, expected in bench.sizes:
        assert result.get(name) == expected, f"{bench.script}: {name} is {result.get(name)}, asked for {expected}"
