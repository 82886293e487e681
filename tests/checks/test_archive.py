"""What the newest verified archive holds (seed test 4), and the server token it needs."""

import pytest

from dr_lib.checks import verdicts_files as v


@pytest.mark.control("DR-ARCH-001")
def test_newest_verified_archive_intact(judge):
    judge(v.archive_intact)


@pytest.mark.control("DR-ARCH-002")
def test_archive_holds_expected_kinds(judge):
    judge(v.expected_kinds)


@pytest.mark.control("DR-ARCH-003")
def test_datastore_snapshot_carries_token(judge):
    judge(v.datastore_with_token)


@pytest.mark.control("DR-K3S-001")
def test_server_token_present_and_private(judge):
    judge(v.server_token)
