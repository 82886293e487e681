"""Shared pieces of the offsite tests: a real S3 server (versitygw) on loopback, keys, archives.

Import the fixtures into a test module (``from tests.integration._offsite_env import ...``);
each module gets its own server (module scope), on its own directory and port.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyrage
import pytest
import yaml

from dr_lib.archive import format as fmt
from dr_lib.archive.access import verify_archive
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.config import OffsiteConfig, OffsiteTargetConfig
from dr_lib.errors import ToolMissing
from dr_lib.offsite.s3client import make_client
from k3s_dr_testbed.s3.server import S3Server, ensure_versitygw, start_s3_server
from tests.skip_rule import unavailable
from tests.unit._archive_factory import CONFIGMAPS, good_archive

ACCESS_KEY = "K3SDRTESTACCESS"
SECRET_KEY = "k3s-dr-test-secret-" + "x" * 20
BASE = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)


def versitygw_or_skip() -> Path:
    try:
        return ensure_versitygw()
    except ToolMissing as exc:
        unavailable(f"needs versitygw (built with go): {exc}")


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    binary = versitygw_or_skip()
    directory = tmp_path_factory.mktemp("s3") / "data"
    server = start_s3_server(directory, access_key=ACCESS_KEY, secret_key=SECRET_KEY, binary=binary,
                             versioning=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials the usual way (environment); no ~/.aws of the machine leaks in."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def new_bucket(server: S3Server, *, lock: bool = False) -> str:
    name = f"dr-{secrets.token_hex(5)}"
    client = make_client(OffsiteTargetConfig(bucket=name, endpoint_url=server.endpoint))
    client.create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if lock else {}))
    return name


def keypair(directory: Path, name: str = "identity") -> tuple[Path, str]:
    identity = pyrage.x25519.Identity.generate()
    path = directory / f"{name}.txt"
    path.write_text(f"# public key: {identity.to_public()}\n{identity}\n")
    path.chmod(0o600)
    return path, str(identity.to_public())


def make_archive(directory: Path, hours: float = 0, *, objects: int = 20, payload: int = 100,
                 incompressible: bool = False, verified: bool = True) -> Path:
    """A real archive dated BASE + hours, with its sidecar (as a finished backup leaves it)."""
    directory.mkdir(parents=True, exist_ok=True)
    created = fmt.format_time(BASE + timedelta(hours=hours))
    cms = [CONFIGMAPS.obj(f"cm-{i}", data={"v": secrets.token_hex(payload // 2) if incompressible
                                            else f"{i:08d}" * (payload // 8)}) for i in range(objects)]
    path = good_archive(directory, {CONFIGMAPS: cms}, created=created)
    if verified:
        write_sidecar(verify_archive(path), BASE)
    return path


def s3_offsite(server: S3Server, bucket: str, *, recipients: tuple[str, ...] = (), keep: int = 24,
               identity: Path | None = None, **target: object) -> OffsiteConfig:
    config = OffsiteTargetConfig(bucket=bucket, endpoint_url=server.endpoint, keep=keep, keep_daily=0,
                                 keep_weekly=0, timeout="2m", **target)  # type: ignore[arg-type]
    return OffsiteConfig(encrypt="auto" if recipients else "off", recipients=recipients,
                         identity_file=str(identity or "/nonexistent"), targets={"lab": config})


def object_file(server: S3Server, bucket: str, key: str) -> Path:
    """Where versitygw keeps an object's bytes: a plain file, so tests can tamper with it."""
    return server.directory / bucket / key


def restic_or_skip() -> str:
    found = shutil.which("restic")
    if found is None:
        unavailable("needs restic (apt-get install restic)")
    return found


K3S_DR = str(Path(sys.executable).parent / "k3s-dr")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.stdout.strip().splitlines()[-1])
        return value


def write_config(directory: Path, *, endpoint: str, bucket: str, recipient: str | None, identity: Path | None,
                 restic_repo: Path | None = None, keep: int = 24, extra: dict[str, Any] | None = None) -> Path:
    """A config whose every path is inside ``directory``: backups, lock, state, metrics textfile, targets
    ``lab`` (+ ``home``)."""
    directory.mkdir(parents=True, exist_ok=True)
    targets = {"lab": {"bucket": bucket, "endpoint_url": endpoint, "keep": keep, "keep_daily": 0,
                       "keep_weekly": 0, "timeout": "2m"}}
    if restic_repo is not None:
        password = directory / "restic.pass"
        password.write_text("restic repository password\n")
        targets["home"] = {"type": "restic", "repository": str(restic_repo), "password_file": str(password),
                           "keep": keep, "keep_daily": 0, "keep_weekly": 0, "timeout": "5m"}
    config = {
        "backup": {"dir": str(directory / "backups"), "lock_file": str(directory / "lock" / "k3s-dr.lock"),
                   "log_file": str(directory / "k3s-dr.log"), "k3s_data_dir": str(directory / "no-k3s")},
        "restore": {"state_dir": str(directory / "state"), "wait_timeout": "90s"},
        # written only where its directory exists: a test that wants the textfile creates it
        "metrics": {"textfile": str(directory / "textfile" / "k3s_dr.prom")},
        "offsite": {"encrypt": "required" if recipient else "off", "recipients": [recipient] if recipient else [],
                    "identity_file": str(identity or directory / "no-identity.txt"), "targets": targets},
        **(extra or {}),
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "K3S_DR_"))}
    env |= {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_CONFIG_FILE": "/nonexistent/aws-config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-creds"}
    return env | extra


def k3s_dr(config: Path, *args: str | Path, env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    done = subprocess.run([K3S_DR, "--config", str(config), *map(str, args)], env=env or cli_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Run(done.returncode, done.stdout, done.stderr)
