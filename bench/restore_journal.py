"""Benchmark: what the restore journal costs — each result appended and fsynced as objects complete,
an object started only while fewer than 256 started ones are not yet journaled — against the same
applier with no journal and no window (every object of a tier handed to the pool at once, as before).

    .venv/bin/python bench/restore_journal.py --objects 10000

The archive is bench/restore.py's (its object mix of N objects, as a LIST returns them), verified
and planned once; only the apply phase is timed, in process, each run on a FRESH local cluster. The
two alternate, the order swapped every run (the machine's load drifts). The LAST line printed is one
JSON object {"objects", "journaled_s", "baseline_s", "ratio", ...}; the lines before it give the runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from restore import _on_fresh_cluster, archived_objects, write_bench_archive  # noqa: E402

from dr_lib.kube.client import Kube  # noqa: E402
from dr_lib.kube.writing import Writer  # noqa: E402
from dr_lib.restore.apply import JOURNAL_WINDOW, Applier, ApplyOptions  # noqa: E402
from dr_lib.restore.journal import Journal, header  # noqa: E402
from dr_lib.restore.ledger import Ledger  # noqa: E402
from dr_lib.restore.objects import ObjectSettings  # noqa: E402
from dr_lib.restore.plan import Plan, PlanOptions  # noqa: E402
from dr_lib.restore.run import load_plan  # noqa: E402

UNBOUNDED = 10**9  # the whole tier at once: no window


def measure(plan: Plan, kubeconfig: Path, work: Path, *, journaled: bool) -> tuple[float, int]:
    work.mkdir(parents=True)
    with Kube.from_kubeconfig(kubeconfig, pool_size=16) as kube:
        settings = ObjectSettings(Writer(kube), context=plan.context, planned=frozenset(o.key for o in plan.objects()))
        ledger = Ledger("bench", False, "skip", "now", [], plan.left_out)
        journal = Journal.create(work / "restore-bench.journal.jsonl", header(ledger, work / "restore-bench.json",
                                                                             plan.count)) if journaled else None
        options = ApplyOptions(journal_window=JOURNAL_WINDOW if journaled else UNBOUNDED)
        started = time.perf_counter()
        entries = Applier(settings, options, on_batch=journal.batch if journal else None).apply(plan.tiers)
        seconds = time.perf_counter() - started
        if journal is not None:
            journal.close()
    assert all(entry.result == "created" for entry in entries), {e.result for e in entries}
    return seconds, len(entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10000, help="objects (bench/_objects.py's mix) [10000]")
    parser.add_argument("--runs", type=int, default=3, help="pairs, alternating; medians reported [3]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="k3s-dr-bench-journal-") as tmp:
        work = Path(tmp)
        _verified, plan = load_plan(write_bench_archive(work, archived_objects(args.objects)), PlanOptions())
        times: dict[str, list[float]] = {"journaled": [], "baseline": []}
        for run in range(args.runs):
            order = ["journaled", "baseline"] if run % 2 == 0 else ["baseline", "journaled"]
            for label in order:
                target = work / f"{label}-{run}"
                seconds, applied = _on_fresh_cluster(
                    f"bench-journal-{label}-{run}", work,
                    lambda kc, t=target, j=label == "journaled": measure(plan, kc, t, journaled=j))
                times[label].append(seconds)
                print(f"run {run + 1}: {label:9} {seconds:6.2f} s ({applied} objects applied)", flush=True)
        journaled, baseline = statistics.median(times["journaled"]), statistics.median(times["baseline"])
        print(f"ratio: journaled / baseline = {journaled / baseline:.2f} (medians of {args.runs})")
        print(json.dumps({"objects": plan.count, "journal_window": JOURNAL_WINDOW, "journaled_s": round(journaled, 2),
                          "baseline_s": round(baseline, 2), "ratio": round(journaled / baseline, 3),
                          "runs": args.runs, "journaled_runs_s": [round(x, 2) for x in times["journaled"]],
                          "baseline_runs_s": [round(x, 2) for x in times["baseline"]]}))


if __name__ == "__main__":
    main()
