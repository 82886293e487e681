"""The planner reads the archive twice and keeps bodies encoded in a store (issue 19: 100k objects).

What it must not change: the plan — tiers, order, bodies byte for byte, what is left out and
why — is the one the planner made when it held every object in memory.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from restore_helpers import obj, stream
from test_restore_plan import _sample

from dr_lib.errors import IntegrityError
from dr_lib.jsontypes import encode_compact
from dr_lib.restore.plan import PlannedObject, build_plan
from dr_lib.restore.plan.bodies import MemoryBodies
from dr_lib.restore.spool import SpooledBodies


def _many(count: int) -> list[dict[str, Any]]:
    objects = [obj("namespaces", f"ns-{n}") for n in range(3)]
    objects += [obj("configmaps", f"cm-{i:04d}", f"ns-{i % 3}", data={"k": "v" * (i % 50), "n": str(i)})
                for i in reversed(range(300))]
    return [*objects, *_sample()]


def _described(plan: Any) -> list[Any]:
    tiers = [(t.name, [(o.key, o.note, o.implied, o.body, o.encoded) for o in t.objects]) for t in plan.tiers]
    return [tiers, [(lo.key, lo.kind, lo.reason) for lo in plan.left_out], plan.context,
            [t.resource for t in plan.unresolved_types]]


def _reads(objects: list[dict[str, Any]], reads: list[int]) -> Any:
    def read() -> Iterator[Any]:
        reads.append(1)
        return iter(stream(*copy.deepcopy(objects)))  # a fresh parse each time, as from the archive
    return read


@pytest.mark.parametrize("store", [MemoryBodies, SpooledBodies])
def test_a_plan_read_twice_from_a_store_is_the_plan_held_in_memory(store: Any) -> None:
    objects = _many(300)
    held = build_plan(stream(*copy.deepcopy(objects)))
    reads: list[int] = []
    streamed = build_plan(_reads(objects, reads), bodies=store())
    assert len(reads) == 2
    assert _described(streamed) == _described(held)
    assert streamed.count == held.count > 300


def test_stored_bodies_are_the_bytes_the_applier_sent_before() -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ünï", "namespace": "a"},
            "data": {"big": str(2**80), "emoji": "🙂", "nested": [1, 2.5, None, True]}}
    planned = PlannedObject(build_plan(stream(obj("configmaps", "x", "a"))).tiers[-1].objects[0].type,
                            copy.deepcopy(body), store=SpooledBodies())
    assert planned.encoded == encode_compact(body)
    assert planned.body == body
    assert planned.body is not planned.body  # each read is a fresh dict: nobody mutates the stored one


def test_an_archive_that_changes_between_the_two_reads_is_refused() -> None:
    good = _many(10)
    bad = copy.deepcopy(good)
    del bad[5]["metadata"]["name"]
    reads = iter([stream(*good), stream(*bad)])
    with pytest.raises(IntegrityError, match=r"object #6 has no metadata.name \(the archive changed while it was read"):
        build_plan(lambda: iter(next(reads)), bodies=MemoryBodies())


def test_a_type_the_first_read_did_not_see_is_refused() -> None:
    good = _many(10)
    reads = iter([stream(*good), stream(*good, obj("jobs.batch", "late", "ns-1"))])
    with pytest.raises(IntegrityError, match=r"jobs.batch: object #.* is of a type the first read did not see"):
        build_plan(lambda: iter(next(reads)), bodies=MemoryBodies())


def test_a_forged_object_is_refused_after_the_first_read_before_any_body_is_stored() -> None:
    pairs = stream(*_many(10))
    pairs[4] = (pairs[4][0], {**pairs[4][1], "kind": "Secret"})  # a ConfigMaps file holding a Secret
    reads: list[int] = []
    store = MemoryBodies()

    def read() -> Iterator[Any]:
        reads.append(1)
        return iter(copy.deepcopy(pairs))

    with pytest.raises(IntegrityError, match="object #5 holds v1/Secret among v1/ConfigMap objects"):
        build_plan(read, bodies=store)
    assert len(reads) == 1
    with pytest.raises(IndexError):
        store.get(0)


def test_the_spool_file_has_no_name_and_serves_many_readers() -> None:
    store = SpooledBodies()
    bodies = [os.urandom(i % 700 + 1) for i in range(2000)]
    handles = [store.add(b) for b in bodies]
    target = os.readlink(f"/proc/self/fd/{store._file.fileno()}")
    assert target.endswith("(deleted)"), target  # O_TMPFILE or unlinked at once: no path to open or swap
    failures: list[int] = []

    def read(start: int) -> None:
        failures.extend(h for h in handles[start::4] if store.get(h) != bodies[h])

    threads = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    store.add(b"after")  # written after reads began: still read back whole
    assert store.get(len(bodies)) == b"after"
