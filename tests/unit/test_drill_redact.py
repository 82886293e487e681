"""Secrets never reach a report: redaction of objects and scrubbing of text."""

from __future__ import annotations

import base64

from dr_lib.drill.redact import REDACTED, Scrubber, redact_object, secret_strings


def _secret() -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "s", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "copy", "team": "a"}},
        "data": {"password": base64.b64encode(b"hunter2-long-value").decode(),
                 "pin": base64.b64encode(b"1234").decode()},
        "stringData": {"token": "plain-token-value"}}


def test_redact_object_keeps_keys_drops_values() -> None:
    redacted = redact_object(_secret())
    assert redacted["data"] == {"password": REDACTED, "pin": REDACTED}
    assert redacted["stringData"] == {"token": REDACTED}
    assert redacted["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": REDACTED, "team": "a"}
    original = _secret()
    redact_object(original)
    assert original["data"]["pin"] != REDACTED, "the input is not modified"
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}
    assert redact_object(config_map) is config_map


def test_secret_strings_cover_plain_and_base64_forms_of_long_values() -> None:
    strings = secret_strings(_secret())
    assert "hunter2-long-value" in strings and base64.b64encode(b"hunter2-long-value").decode() in strings
    assert "plain-token-value" in strings and base64.b64encode(b"plain-token-value").decode() in strings
    assert "1234" not in strings, "too short to scrub safely from text (still redacted in objects)"


def test_scrubber_replaces_every_occurrence_longest_first() -> None:
    scrubber = Scrubber.of(["secret-value-1", "secret-value-12345", "short"])
    text, count = scrubber.scrub("a secret-value-12345 b secret-value-1 c secret-value-1")
    assert text == f"a {REDACTED} b {REDACTED} c {REDACTED}" and count == 3
    assert scrubber.found_in("x secret-value-1") == ["value #1 (14 chars)"]
    assert scrubber.scrub("short")[1] == 0
