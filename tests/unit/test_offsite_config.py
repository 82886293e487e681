"""The offsite config section: named targets, their checks, encryption policy."""

from __future__ import annotations

import pyrage
import pytest

from dr_lib.config import config_from_text
from dr_lib.errors import ConfigError, UsageError
from dr_lib.offsite.targets import check_target, recipients_for, selected

RECIPIENT = str(pyrage.x25519.Identity.generate().to_public())


def test_named_targets_load_with_defaults() -> None:
    config = config_from_text(f"""
offsite:
  recipients: [{RECIPIENT}]
  targets:
    office: {{bucket: dr-copies, endpoint_url: "http://127.0.0.1:9000", keep: 48}}
    home: {{type: restic, repository: /srv/restic, password_file: /etc/k3s-dr/restic.pass}}
""", "test")
    office, home = config.offsite.targets["office"], config.offsite.targets["home"]
    assert (office.type, office.bucket, office.prefix, office.keep, office.keep_daily) == (
        "s3", "dr-copies", "k3s-dr/", 48, 7)
    assert (home.type, home.repository) == ("restic", "/srv/restic")
    assert config.offsite.recipients == (RECIPIENT,)
    assert [name for name, _ in selected(config.offsite, None)] == ["home", "office"]


@pytest.mark.parametrize(("text", "key"), [
    ("offsite: {targets: {Office: {}}}", "offsite.targets.Office"),
    ("offsite: {targets: {x: {type: ftp}}}", "offsite.targets.x.type"),
    ("offsite: {targets: {x: {bucket: 'Not_A_Bucket'}}}", "offsite.targets.x.bucket"),
    ("offsite: {targets: {x: {prefix: /abs/}}}", "offsite.targets.x.prefix"),
    ("offsite: {targets: {x: {colour: blue}}}", "offsite.targets.x.colour"),
    ("offsite: {targets: [a, b]}", "offsite.targets"),
    ("offsite: {targets: {x: {keep: 0}}}", "offsite.targets.x.keep"),
    ("offsite: {recipients: [age1short]}", "offsite.recipients"),
    ("offsite: {encrypt: sometimes}", "offsite.encrypt"),
])
def test_bad_values_name_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_text(text, "test")
    assert caught.value.key == key


def test_environment_overrides_a_named_target() -> None:
    config = config_from_text("offsite: {targets: {office: {bucket: one}}}", "test",
                              env={"K3S_DR_OFFSITE_TARGETS_OFFICE_BUCKET": "two"})
    assert config.offsite.targets["office"].bucket == "two"


@pytest.mark.parametrize(("text", "key"), [
    ("offsite: {targets: {x: {type: s3}}}", "offsite.targets.x.bucket"),
    ("offsite: {targets: {x: {type: restic, password_file: /p}}}", "offsite.targets.x.repository"),
    ("offsite: {targets: {x: {type: restic, repository: /r}}}", "offsite.targets.x.password_file"),
])
def test_each_type_needs_its_keys(text: str, key: str) -> None:
    config = config_from_text(text, "test")
    with pytest.raises(ConfigError) as caught:
        check_target("x", config.offsite.targets["x"])
    assert caught.value.key == key


def test_encryption_policy() -> None:
    with_recipient = config_from_text(f"offsite: {{recipients: '{RECIPIENT}'}}", "test").offsite
    assert recipients_for(with_recipient) == (RECIPIENT,)
    off = config_from_text(f"offsite: {{encrypt: 'off', recipients: ['{RECIPIENT}']}}", "test").offsite
    assert recipients_for(off) == ()
    for text in ("", "offsite: {encrypt: required}"):  # plaintext copies only when asked for: encrypt off
        with pytest.raises(ConfigError, match="at least one age recipient") as caught:
            recipients_for(config_from_text(text, "test").offsite)
        assert "plaintext copies only with offsite.encrypt: off" in str(caught.value)


@pytest.mark.parametrize(("target", "refused"), [
    ("{bucket: abc, endpoint_url: 'https://s3.example.com'}", None),
    ("{bucket: abc, endpoint_url: 'http://127.0.0.1:9000'}", None),  # loopback: never leaves this machine
    ("{bucket: abc, endpoint_url: 'http://localhost:9000'}", None),
    ("{bucket: abc, endpoint_url: 'http://[::1]:9000'}", None),
    ("{bucket: abc, endpoint_url: 'http://10.0.0.5:9000'}", "endpoint_url"),
    ("{bucket: abc, endpoint_url: 'http://127.0.0.1.evil.example:9000'}", "endpoint_url"),
    ("{bucket: abc, endpoint_url: 'http://localhost.example.com'}", "endpoint_url"),
    ("{bucket: abc, endpoint_url: 'http://10.0.0.5:9000', allow_insecure_http: true}", None),
    ("{type: restic, repository: 's3:http://minio.lan/bucket', password_file: /p}", "repository"),
    ("{type: restic, repository: 's3:http://127.0.0.1:9000/bucket', password_file: /p}", None),
    ("{type: restic, repository: 's3:https://minio.lan/bucket', password_file: /p}", None),
])
def test_plain_http_is_refused_off_this_machine_unless_allowed(target: str, refused: str | None) -> None:
    config = config_from_text(f"offsite: {{targets: {{x: {target}}}}}", "test")
    if refused is None:
        check_target("x", config.offsite.targets["x"])
        return
    with pytest.raises(ConfigError, match="allow_insecure_http") as caught:
        check_target("x", config.offsite.targets["x"])
    assert caught.value.key == f"offsite.targets.x.{refused}"


def test_no_or_unknown_target_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no offsite targets"):
        selected(config_from_text("", "test").offsite, None)
    offsite = config_from_text("offsite: {targets: {office: {bucket: abc}}}", "test").offsite
    with pytest.raises(UsageError, match="accepted is one of office"):
        selected(offsite, "home")
