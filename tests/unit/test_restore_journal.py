"""The restore journal and interruption, on the real file system and with real signals (no cluster):
a journal names what was applied; a live journal is never recovered, a dead one becomes the final
ledger marked interrupted; a torn last line is ignored; SIGTERM/SIGINT only set the stop flag."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
from pathlib import Path

import pytest

from dr_lib.restore.interrupt import StopSignal, stop_on_signals
from dr_lib.restore.journal import (
    KILLED,
    SUFFIX,
    Journal,
    header,
    interruption,
    journal_path_for,
    read_journal,
    recover_journals,
)
from dr_lib.restore.ledger import CREATED, FAILED, RESULTS, Entry, Ledger
from dr_lib.restore.plan import LeftOut, ObjectKey

LEFT_OUT = [LeftOut(ObjectKey("events", "shop", "e1"), "Event", "events are never restored: they describe the past")]


def entry(name: str, result: str = CREATED, **extra: object) -> Entry:
    return Entry("config maps", "configmaps", "ConfigMap", "shop", name, result, **extra)  # type: ignore[arg-type]


def new_journal(directory: Path, planned: int = 5) -> tuple[Journal, Path]:
    ledger_path = directory / "restore-20261128T100000Z.json"
    ledger = Ledger("/b/k3s-dr-x.tar.gz", False, "skip", "2026-11-28T10:00:00Z", [], LEFT_OUT, archive_sha256="ab" * 32)
    return Journal.create(journal_path_for(ledger_path), header(ledger, ledger_path, planned)), ledger_path


def test_entries_round_trip_and_hostile_lines_are_refused() -> None:
    original = entry("a", FAILED, reason="409: exists", differences=("data.k: 1 → 2",))
    assert Entry.from_dict(json.loads(json.dumps(original.to_dict()))) == original
    for bad in ([], {"tier": "t"}, {**original.to_dict(), "result": "exploded"}):
        with pytest.raises(ValueError, match="ledger entry"):
            Entry.from_dict(bad)


def test_a_journal_names_each_batch_as_it_is_written(tmp_path: Path) -> None:
    journal, _ledger_path = new_journal(tmp_path)
    assert journal.path.name == "restore-20261128T100000Z" + SUFFIX
    assert journal.path.stat().st_mode & 0o777 == 0o600
    journal.batch("config maps", [entry("a"), entry("b")], 0.5)
    journal.batch("config maps", [], 0.6)  # an empty batch writes nothing
    content = read_journal(journal.path)  # read while it is still open: each line is already on disk
    assert [e.name for e in content.entries] == ["a", "b"] and content.seconds == 0.5
    assert content.header["planned"] == 5 and content.header["ledger"] == "restore-20261128T100000Z.json"
    journal.close()
    assert journal.path.exists(), "not done: it stays, to be recovered"


def test_a_dead_restores_journal_becomes_its_ledger_marked_interrupted(tmp_path: Path) -> None:
    journal, ledger_path = new_journal(tmp_path)
    journal.batch("config maps", [entry("a"), entry("b", FAILED, reason="422")], 1.25)
    journal.close()  # as SIGKILL leaves it: no final ledger, the lock released by the kernel
    assert recover_journals(tmp_path) == [ledger_path]
    assert not journal.path.exists()
    ledger = json.loads(ledger_path.read_text())
    assert [o["name"] for o in ledger["objects"]] == ["a", "b"]
    assert ledger["interrupted"] == {"signal": None, "reason": KILLED, "attempted": 2, "not_attempted": 3}
    assert ledger["complete"] is False and ledger["outcome"] == "partial"
    assert ledger["counts"] == {r: {"created": 1, "failed": 1}.get(r, 0) for r in RESULTS}
    assert ledger["left_out"] == [{"resource": "events", "kind": "Event", "namespace": "shop", "name": "e1",
                                   "reason": "events are never restored: they describe the past"}]
    assert ledger["seconds"] == 1.25 and ledger["archive_sha256"] == "ab" * 32
    assert recover_journals(tmp_path) == []  # nothing left to recover


def test_a_live_journal_is_left_alone(tmp_path: Path) -> None:
    journal, ledger_path = new_journal(tmp_path)
    journal.batch("config maps", [entry("a")], 0.1)
    assert recover_journals(tmp_path) == []
    assert journal.path.exists() and not ledger_path.exists()
    journal.close()


def test_a_torn_last_line_is_ignored_and_a_finished_restore_leaves_no_journal(tmp_path: Path) -> None:
    journal, ledger_path = new_journal(tmp_path)
    journal.batch("config maps", [entry("a")], 0.1)
    journal.close()
    with journal.path.open("ab") as handle:  # the process died in the middle of its next line
        handle.write(b'{"tier": "config maps", "entries": [{"tier": "config ma')
    assert [e.name for e in read_journal(journal.path).entries] == ["a"]
    done, _ = new_journal(tmp_path / "other")
    done.done = True
    done.close()
    assert not done.path.exists()
    assert recover_journals(tmp_path) == [ledger_path]


def test_a_file_that_is_no_journal_is_not_turned_into_a_ledger(tmp_path: Path) -> None:
    planted = tmp_path / ("restore-20261128T100000Z" + SUFFIX)
    planted.write_text('{"objects": []}\n')
    assert recover_journals(tmp_path) == []
    assert planted.exists() and not (tmp_path / "restore-20261128T100000Z.json").exists()


def test_an_interrupted_ledger_is_never_complete_and_says_why() -> None:
    ledger = Ledger("a", False, "skip", "t", [entry("a")])
    assert ledger.complete and "interrupted" not in ledger.to_dict()
    ledger.interrupted = interruption("SIGTERM", 10, 1)
    assert not ledger.complete and ledger.outcome == "partial"
    assert ledger.to_dict()["interrupted"] == {"signal": "SIGTERM", "reason": "SIGTERM stopped the restore between "
                                               "writes", "attempted": 1, "not_attempted": 9}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_first_signal_only_sets_the_stop_and_the_second_acts_as_usual(signum: signal.Signals) -> None:
    stop = StopSignal()
    clock = stop.deadline_clock(lambda: 5.0)
    before = signal.getsignal(signum)
    seen: list[int] = []
    signal.signal(signum, lambda number, _frame: seen.append(number))  # stands for the usual action
    try:
        with stop_on_signals(stop):
            assert clock() == 5.0
            os.kill(os.getpid(), signum)
            assert stop.stopped and stop.signal_name == signum.name
            assert clock() == math.inf  # every wait's deadline has passed
            os.kill(os.getpid(), signum)
            assert seen == [signum], "the second signal reaches the usual handler"
        assert seen == [signum]
    finally:
        signal.signal(signum, before)


def test_outside_the_main_thread_signals_are_left_alone() -> None:
    stop, handlers = StopSignal(), []

    def run() -> None:
        with stop_on_signals(stop):
            handlers.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert handlers == [signal.getsignal(signal.SIGTERM)] and not stop.stopped
