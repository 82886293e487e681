"""Jobs called directly, as the units, the drill or a future API would: a typed options object
in, a result value out, warnings through the caller's reporter (never printed by the job)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dr_lib.archive.sidecar import is_verified, sidecar_path
from dr_lib.config import config_from_text
from dr_lib.errors import DRError, IntegrityError
from dr_lib.jobs.archives import VerifyOptions, list_archives, verify
from dr_lib.jobs.push import PushOptions, push
from dr_lib.jobs.report import Collected
from tests.unit._archive_factory import CONFIGMAPS, good_archive

NO_CONFIG = config_from_text("trust: {signing_key: '', verify_keys: []}", "test")  # no keys: none of this host's


def test_verify_returns_the_json_of_the_command_and_writes_the_sidecar(tmp_path: Path, capsys) -> None:
    archive = good_archive(tmp_path, {CONFIGMAPS: [CONFIGMAPS.obj("a"), CONFIGMAPS.obj("b")]})
    said = Collected()
    result = verify(NO_CONFIG, VerifyOptions(str(archive)), said)
    data = result.to_dict()
    assert (data["archive"], data["ok"], data["objects"], data["sidecar_written"]) == (str(archive), True, 2, True)
    assert data["kinds"] == {"configmaps": 2} and len(data["sha256"]) == 64 and data["datastore"] is None
    assert (data["signature"], data["key_id"], data["signature_problem"]) == ("missing", None, None)
    assert is_verified(archive) and said == Collected() and capsys.readouterr() == ("", "")


def test_a_sidecar_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    archive = good_archive(tmp_path, {CONFIGMAPS: [CONFIGMAPS.obj("a")]})
    sidecar_path(archive).mkdir()  # something in the way: the sidecar cannot replace a directory
    said = Collected()
    result = verify(NO_CONFIG, VerifyOptions(str(archive)), said)
    assert result.to_dict()["sidecar_written"] is False
    assert len(said.warnings) == 1 and said.warnings[0].startswith("verified, but the sidecar could not be written")


def test_a_damaged_archive_fails_the_job(tmp_path: Path) -> None:
    archive = good_archive(tmp_path, {CONFIGMAPS: [CONFIGMAPS.obj("a")]})
    archive.write_bytes(archive.read_bytes()[:-40])
    with pytest.raises(IntegrityError):
        verify(NO_CONFIG, VerifyOptions(str(archive)), Collected())


def test_list_names_the_directory_and_what_is_in_it(tmp_path: Path) -> None:
    archive = good_archive(tmp_path, {CONFIGMAPS: [CONFIGMAPS.obj("a")]})
    verify(NO_CONFIG, VerifyOptions(str(archive)), Collected())
    listing = list_archives(config_from_text(f"backup: {{dir: {tmp_path}}}", "test"), None)
    data = listing.to_dict()
    assert data["dir"] == str(tmp_path) and [a["name"] for a in data["archives"]] == [archive.name]
    assert data["archives"][0]["verified"] is True and set(data["links"]) == {"latest-backup.tar.gz",
                                                                                "k3s-cluster-snapshot.tar.gz"}


def test_a_push_of_nothing_says_what_is_missing(tmp_path: Path) -> None:
    config = config_from_text(f"backup: {{dir: {tmp_path}}}", "test")
    with pytest.raises(DRError, match=r"nothing to push: .*latest-backup\.tar\.gz' does not exist"):
        push(config, PushOptions(), Collected())
