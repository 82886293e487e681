"""The two links: `latest` (seed test 2) and the snapshot link auto-restore waits for (seed test 3, problem 1)."""

import pytest

from dr_lib.checks import verdicts_files as v
from dr_lib.checks import verdicts_snapshot as snapshot


@pytest.mark.control("DR-LINK-001")
def test_latest_link_on_verified_archive(judge):
    judge(v.latest_link)


@pytest.mark.control("DR-LINK-002")
def test_snapshot_link_exists(judge):
    judge(v.snapshot_link_present)


@pytest.mark.control("DR-LINK-003")
def test_snapshot_link_on_verified_archive(judge):
    judge(v.snapshot_link_verified)


@pytest.mark.control("DR-LINK-004")
def test_snapshot_holds_user_objects_when_older_archives_do(judge):
    judge(snapshot.snapshot_holds_user_objects)
