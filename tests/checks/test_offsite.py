"""Offsite copies: current and verified, encrypted where required, remote retention as configured
(n/a on hosts without offsite targets)."""

import pytest

from dr_lib.checks import verdicts_offsite as v


@pytest.mark.control("DR-OFFSITE-001")
def test_offsite_copies_current_and_verified(judge):
    judge(v.offsite_current)


@pytest.mark.control("DR-OFFSITE-002")
def test_offsite_copies_encrypted_where_required(judge):
    judge(v.offsite_encrypted)


@pytest.mark.control("DR-OFFSITE-003")
def test_remote_retention_as_configured(judge):
    judge(v.offsite_retention)
