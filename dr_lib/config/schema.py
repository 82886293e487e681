"""The configuration schema: one frozen dataclass per section; every field says what it accepts."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dr_lib.config.fields import (
    DEFAULT_KEYS_DIR,
    _absolute,
    _duration,
    _file_name,
    _fraction,
    _non_negative,
    _positive,
    _size,
    _spec,
    _unit,
)


@dataclass(frozen=True)
class BackupConfig:
    dir: str = _spec("/var/backups/k3s-cluster", "an absolute directory path", _absolute)
    keep: int = _spec(2, "a whole number ≥ 1 (archives kept, newest first)", _positive)
    keep_daily: int = _spec(0, "a whole number ≥ 0 (days with one archive kept)", _non_negative)
    keep_weekly: int = _spec(0, "a whole number ≥ 0 (weeks with one archive kept)", _non_negative)
    latest_link: str = _spec("latest-backup.tar.gz", "a file name without '/'", _file_name)
    snapshot_link: str = _spec("k3s-cluster-snapshot.tar.gz", "a file name without '/'", _file_name)
    shrink_threshold: float = _spec(
        0.5, "a fraction 0..1: the drop in objects against the last promoted archive that blocks promotion", _fraction
    )
    interval: str = _spec("1h", "a duration such as 15m, 1h, 1d", _duration)
    log_file: str = _spec("/var/log/k3s-dr.log", "an absolute file path", _absolute)
    k3s_data_dir: str = _spec("/var/lib/rancher/k3s", "an absolute directory path", _absolute)
    lock_file: str = _spec("/run/k3s-dr/k3s-dr.lock", "an absolute file path in a directory only root writes "
                           "(created 0700 when missing)", _absolute)


@dataclass(frozen=True)
class RestoreConfig:
    auto_loss_threshold: float = _spec(
        0.5,
        "a fraction 0..1: the share of the snapshot's user objects missing live that triggers auto-restore",
        _fraction,
    )
    state_dir: str = _spec("/var/lib/k3s-dr", "an absolute directory path", _absolute)
    wait_timeout: str = _spec("10m", "a duration such as 90s, 10m", _duration)
    shrink_warn_threshold: float = _spec(
        0.5, "a fraction 0..1: restore warns when its archive holds this share fewer user objects than the "
        "archive before it in backup.dir (none at all always warns)", _fraction,
    )


@dataclass(frozen=True)
class TargetsConfig:
    rto: str = _spec("15m", "a duration such as 15m", _duration)
    rpo: str = _spec("1h", "a duration such as 1h", _duration)


@dataclass(frozen=True)
class UnitsConfig:
    k3s: str = _spec("k3s.service", "a systemd unit name ending in .service", _unit)
    auto_restore: str = _spec("k3s-auto-restore.service", "a systemd unit name ending in .service", _unit)
    backup: str = _spec("k3s-dr-backup.service", "a systemd unit name ending in .service", _unit)
    backup_timer: str = _spec("k3s-dr-backup.timer", "a systemd unit name ending in .timer", _unit)
    exporter: bool = _spec(True, "true (`k3s-dr install` runs `k3s-dr exporter` as k3s-dr-exporter.service) or "
                           "false (no exporter service: install removes the one it installed)",
                           lambda v: isinstance(v, bool))


def _url(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"(https?://|file:///)[^\s\"'<>]+", value) is not None


@dataclass(frozen=True)
class MetricsConfig:
    prefix: str = _spec(
        "k3s_dr_", "a Prometheus name prefix ([a-zA-Z_][a-zA-Z0-9_]*)",
        lambda v: isinstance(v, str) and re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", v) is not None,
    )
    listen: str = _spec(
        "0.0.0.0:9101", "HOST:PORT", lambda v: isinstance(v, str) and re.fullmatch(r".+:\d{1,5}", v) is not None
    )
    textfile: str = _spec("/var/lib/node_exporter/textfile_collector/k3s_dr.prom", "an absolute file path", _absolute)
    state_file: str = _spec("", "an absolute file path, or empty for <restore.state_dir>/metrics-state.json",
                            lambda v: v == "" or _absolute(v))
    job: str = _spec("k3s-dr", "the job name Prometheus scrapes the exporter under (the rendered rules watch "
                     "up{job=...}): letters, digits, '_', '-', '.'",
                     lambda v: isinstance(v, str) and re.fullmatch(r"[a-zA-Z0-9_.-]{1,63}", v) is not None)
    runbook_url: str = _spec("file:///usr/share/doc/k3s-dr/runbook.md",
                             "the URL of docs/runbook.md as operators open it (alerts link to its sections): "
                             "http(s), or file:// for the copy `k3s-dr install` writes (the default)", _url)
    reports_url: str = _spec("", "empty (no dashboard link) or the http(s) URL of the drill reports' index",
                             lambda v: v == "" or _url(v))
    prometheus_rules_dir: str = _spec("", "empty (off) or an absolute directory: `k3s-dr install` writes the "
                                      "rendered alert rules there as k3s-dr-alerts.yml",
                                      lambda v: v == "" or _absolute(v))
    grafana_dashboards_dir: str = _spec("", "empty (off) or an absolute directory: `k3s-dr install` writes the "
                                        "rendered dashboard there as k3s-dr-dashboard.json",
                                        lambda v: v == "" or _absolute(v))


def _kinds(value: Any) -> bool:
    items = value.split(",") if isinstance(value, str) else value
    return isinstance(items, (list, tuple)) and all(
        isinstance(k, str) and re.fullmatch(r"[a-z0-9]+(\.[a-z0-9.-]+)?", k.strip()) for k in items
    )


def _regex(value: Any) -> bool:
    try:
        re.compile(value)
    except (re.error, TypeError):
        return False
    return isinstance(value, str)


@dataclass(frozen=True)
class ChecksConfig:
    """Settings of the conformance suite (tests/checks), read on the host under test."""

    waivers: str = _spec("/etc/k3s-dr/waivers.yaml", "an absolute file path", _absolute)
    archive_glob: str = _spec("k3s-dr-*.tar.gz", "a file-name pattern without '/' (shell glob)", _file_name)
    expected_kinds: tuple[str, ...] = _spec(
        ("namespaces", "configmaps", "services"),
        "a list (or comma-separated text) of kinds as <plural> or <plural>.<group>, e.g. deployments.apps",
        _kinds,
    )
    log_error_pattern: str = _spec(
        r"(?i)\b(failed|error|critical|traceback|not-promoted)\b", "a Python regular expression", _regex
    )
    log_success_pattern: str = _spec(r"\bk3s-dr backup ok\b", "a Python regular expression", _regex)
    metrics: str = _spec("auto", "auto (check what exists: the textfile; the exporter when units.exporter runs it "
                         "or one answers), required or off",
                         lambda v: v in ("auto", "required", "off"))


def _age_recipients(value: Any) -> bool:
    items = value.split(",") if isinstance(value, str) else value
    return isinstance(items, (list, tuple)) and all(
        isinstance(r, str) and re.fullmatch(r"age1[02-9ac-hj-np-z]{58}", r.strip()) for r in items if str(r).strip()
    )


def _empty_or(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v == "" or check(v)


@dataclass(frozen=True)
class OffsiteTargetConfig:
    """One named offsite target (``offsite.targets.<name>``): an S3 bucket or a restic repository."""

    type: str = _spec("s3", "s3 or restic", lambda v: v in ("s3", "restic"))
    bucket: str = _spec("", "an S3 bucket name (3-63 characters of a-z, 0-9, '.', '-')", _empty_or(
        lambda v: isinstance(v, str) and re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", v) is not None))
    prefix: str = _spec("k3s-dr/", "a key prefix ending in '/', or empty", lambda v: isinstance(v, str) and (
        v == "" or (v.endswith("/") and not v.startswith("/") and ".." not in v.split("/"))))
    endpoint_url: str = _spec("", "empty (AWS) or the http(s):// URL of an S3-compatible server", _empty_or(
        lambda v: isinstance(v, str) and re.fullmatch(r"https?://[^\s/]+(/\S*)?", v) is not None))
    region: str = _spec("", "empty (from the AWS configuration) or a region name such as eu-west-1",
                        _empty_or(lambda v: isinstance(v, str) and re.fullmatch(r"[a-z0-9-]+", v) is not None))
    profile: str = _spec("", "empty (the usual AWS sources) or a profile name of the AWS configuration",
                         lambda v: isinstance(v, str))
    object_lock_days: int = _spec(0, "a whole number ≥ 0: days each pushed copy stays locked (0: no lock)",
                                  _non_negative)
    object_lock_mode: str = _spec("GOVERNANCE", "GOVERNANCE or COMPLIANCE", lambda v: v in ("GOVERNANCE", "COMPLIANCE"))
    repository: str = _spec("", "a restic repository: /absolute/dir, s3:http(s)://HOST/BUCKET/PATH or sftp:HOST:/PATH",
                            _empty_or(lambda v: isinstance(v, str) and re.match(r"(/|s3:|sftp:)", v) is not None))
    password_file: str = _spec("", "an absolute path of the file holding the restic repository password",
                               _empty_or(_absolute))
    keep: int = _spec(24, "a whole number ≥ 1 (remote copies kept, newest first)", _positive)
    keep_daily: int = _spec(7, "a whole number ≥ 0 (days with one remote copy kept)", _non_negative)
    keep_weekly: int = _spec(4, "a whole number ≥ 0 (weeks with one remote copy kept)", _non_negative)
    timeout: str = _spec("30m", "a duration such as 90s, 30m: the deadline of one push or pull", _duration)
    max_age: str = _spec("2h", "a duration such as 2h, 1d: how long newer backups may wait for a successful push "
                         "before DR-OFFSITE-001 fails", _duration)
    allow_insecure_http: bool = _spec(False, "false (http:// endpoints only on loopback) or true (plain http to "
                                      "another machine: credentials and copies in clear text)",
                                      lambda v: isinstance(v, bool))


@dataclass(frozen=True)
class OffsiteConfig:
    encrypt: str = _spec("auto", "auto or required (copies are encrypted for offsite.recipients, which must be set "
                         "to push; plaintext copies are refused when pulled) or off (plaintext copies)",
                         lambda v: v in ("auto", "required", "off"))
    recipients: tuple[str, ...] = _spec((), "a list (or comma-separated text) of age X25519 recipients (age1…)",
                                        _age_recipients)
    identity_file: str = _spec("/etc/k3s-dr/age-identity.txt",
                               "an absolute file path (the age identity; needed only to restore)", _absolute)
    push_after_backup: bool = _spec(True, "true (push to every target after each verified backup to backup.dir) "
                                    "or false (only `k3s-dr push`)", lambda v: isinstance(v, bool))
    targets: dict[str, OffsiteTargetConfig] = field(default_factory=dict, metadata={
        "accepted": "a mapping of target names ([a-z0-9][a-z0-9_-]*) to target sections",
        "check": lambda v: isinstance(v, str) and re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", v) is not None})


_HOOK_RULE_KEYS = frozenset({"name", "namespace", "selector", "container", "preset", "params", "pre", "dump", "post",
                             "restore", "verify", "timeout", "on_error", "volumes", "volume_mode"})


def _hook_rules(value: Any) -> bool:
    """A list of mappings with known keys; dr_lib.hooks checks each value and names the rule when one is bad."""
    return isinstance(value, (list, tuple)) and all(
        isinstance(rule, Mapping) and set(rule) <= _HOOK_RULE_KEYS and isinstance(rule.get("namespace"), str)
        for rule in value)


def _names(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value)


def _namespaces(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(v, str) and re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", v) is not None for v in value)


@dataclass(frozen=True)
class HooksConfig:
    """Application data: backup/restore hooks and volume copies (dr_lib.hooks, docs/hooks.md)."""

    timeout: str = _spec("10m", "a duration such as 90s, 10m (per hook, unless the hook says otherwise; at most "
                         "hooks.max_timeout)", _duration)
    on_error: str = _spec("fail", "fail (abort the backup) or continue (mark it partial): the default of the hooks "
                          "config rules declare", lambda v: v in ("fail", "continue"))
    annotation_on_error: str = _spec(
        "continue", "continue (a failing annotation hook leaves its pod's data out and marks the backup partial) or "
        "fail (it aborts the backup): the default of the hooks pod annotations declare",
        lambda v: v in ("fail", "continue"))
    annotation_namespaces: tuple[str, ...] = _spec(
        (), "a list of namespace names whose pods' hook annotations are honoured (empty: every namespace); "
        "annotations in other namespaces are ignored and reported", _namespaces)
    max_timeout: str = _spec("1h", "a duration such as 30m, 2h: the longest timeout a hook may ask for (a longer one "
                             "is refused)", _duration)
    max_dump_size: str = _spec("16Gi", "a size in bytes, or with Ki, Mi, Gi, Ti (e.g. 500Mi, 16Gi): the most a dump "
                               "hook may write (a bigger dump is stopped and its pod's data left out)", _size)
    volume_backend: str = _spec("copy", "copy (the node directory) or zfs (zfs snapshot + zfs send)",
                                lambda v: v in ("copy", "zfs"))
    local_nodes: tuple[str, ...] = _spec(
        (), "a list of node names whose disks are this machine's (empty: this host's name and localhost)", _names)
    restore_wait: str = _spec("5m", "a duration: how long restore waits for a pod to be Ready before its hook",
                              _duration)
    restore_volumes: str = _spec(
        "keep-existing", "keep-existing (a non-empty target directory is left alone) or replace "
        "(it is moved aside to <dir>.k3s-dr-replaced-<time>, never deleted)",
        lambda v: v in ("keep-existing", "replace"))
    rules: tuple[dict[str, Any], ...] = _spec(
        (), f"a list of mappings, each with 'namespace' and some of: {', '.join(sorted(_HOOK_RULE_KEYS))}",
        _hook_rules)


def _absolute_paths(value: Any) -> bool:
    items = value.split(",") if isinstance(value, str) else value
    return isinstance(items, (list, tuple)) and all(
        isinstance(p, str) and p.strip().startswith("/") and ".." not in p.split("/") for p in items)


def _datasets(value: Any) -> bool:
    items = value.split(",") if isinstance(value, str) else value
    return isinstance(items, (list, tuple)) and all(
        isinstance(d, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*(/[A-Za-z0-9_][A-Za-z0-9_.:-]*)*",
                                            d.strip()) is not None for d in items)


@dataclass(frozen=True)
class DataConfig:
    """Where application data lives and where a restore may put it back (docs/hooks.md, docs/archive-format.md)."""

    volume_roots: tuple[str, ...] = _spec(
        ("/var/lib/rancher/k3s/storage",),
        "a list (or comma-separated text) of absolute directories: volumes are backed up from and restored to "
        "directories strictly below them only (the default is k3s's local-path root; list it too when adding yours)",
        _absolute_paths)
    zfs_datasets: tuple[str, ...] = _spec(
        (), "a list (or comma-separated text) of ZFS dataset names: a restore receives only datasets strictly "
        "below them", _datasets)
    verify_cycle: int = _spec(24, "a whole number ≥ 1: each backup reads back 1/N of the data repository's packs "
                              "(every pack within N hourly backups)", _positive)
    timeout: str = _spec("1h", "a duration such as 30m, 2h: the deadline for storing a backup's application data",
                         _duration)


def _key_paths(value: Any) -> bool:
    items = value.split(",") if isinstance(value, str) else value
    return isinstance(items, (list, tuple)) and all(
        isinstance(v, str) and (v.strip() == "auto" or _absolute(v.strip())) for v in items if str(v).strip())


@dataclass(frozen=True)
class TrustConfig:
    """Archive and report signatures (dr_lib.signing, docs/security.md)."""

    signing_key: str = _spec(
        "auto", f"auto ({DEFAULT_KEYS_DIR}/signing-key.pem when it exists: `k3s-dr install` makes it), empty "
        "(sign nothing) or the absolute path of an Ed25519 signing key (PEM, mode 0600)",
        lambda v: v in ("auto", "") or _absolute(v))
    verify_keys: tuple[str, ...] = _spec(
        ("auto",), f"a list (or comma-separated text) of absolute paths of Ed25519 verify keys (PEM), or auto "
        f"({DEFAULT_KEYS_DIR}/verify-key.pem when it exists); several for key rotation; none: signatures are "
        "reported, not required", _key_paths)


# An image reference as a container runtime takes it: [registry[:port]/]path[:tag][@sha256:digest], no spaces.
_IMAGE_REF = re.compile(r"[a-z0-9][a-z0-9._-]*(:[0-9]{1,5})?(/[a-z0-9][a-z0-9._-]*)*"
                        r"(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[0-9a-f]{64})?")


def _image_ref(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 255 and _IMAGE_REF.fullmatch(value) is not None


@dataclass(frozen=True)
class DrillImagesConfig:
    """Images the drill's pods use on ``--cluster kubeconfig``, which k3s-dr cannot load images into
    (docs/drill.md, "Images"). ``local`` and ``k3d`` load the locally built ones instead."""

    app: str = _spec("", "empty (not named) or an image reference the cluster can pull, with python3 on its PATH "
                     "(it runs every server container of the drill's application)", _empty_or(_image_ref))
    db_dump: str = _spec("", "empty (the app image) or an image reference the cluster can pull, with python3 "
                         "(the db-dump CronJob)", _empty_or(_image_ref))


@dataclass(frozen=True)
class DrillConfig:
    images: DrillImagesConfig = field(default_factory=DrillImagesConfig)


@dataclass(frozen=True)
class Config:
    # Empty: $KUBECONFIG, else /etc/rancher/k3s/k3s.yaml (dr_lib.config.kubeconfig: --kubeconfig comes first).
    kubeconfig: str = _spec("", "a path to a kubeconfig file (empty: $KUBECONFIG, else /etc/rancher/k3s/k3s.yaml)",
                            lambda v: isinstance(v, str))
    backup: BackupConfig = field(default_factory=BackupConfig)
    restore: RestoreConfig = field(default_factory=RestoreConfig)
    targets: TargetsConfig = field(default_factory=TargetsConfig)
    units: UnitsConfig = field(default_factory=UnitsConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    offsite: OffsiteConfig = field(default_factory=OffsiteConfig)
    hooks: HooksConfig = field(default_factory=HooksConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trust: TrustConfig = field(default_factory=TrustConfig)
    drill: DrillConfig = field(default_factory=DrillConfig)
    source: str | None = field(default=None, compare=False)
