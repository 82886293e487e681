"""Archives on disk: directory, retention, permissions, age (seed test 1; the RPO)."""

import pytest

from dr_lib.checks import verdicts_files as v


@pytest.mark.control("DR-BKP-001")
def test_backup_directory_is_private(judge):
    judge(v.backup_dir_private)


@pytest.mark.control("DR-BKP-002")
def test_archives_present_within_retention(judge):
    judge(v.archives_within_retention)


@pytest.mark.control("DR-BKP-003")
def test_archives_readable_only_by_owner(judge):
    judge(v.archives_private)


@pytest.mark.control("DR-BKP-004")
def test_newest_verified_backup_within_rpo(judge):
    judge(v.backup_fresh)
