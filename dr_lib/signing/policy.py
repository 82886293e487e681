"""What a signature verdict means for the one asking: the keys to check with, and when to refuse.

Every path that restores, pulls or verifies an archive asks the same question through
:class:`SignaturePolicy` (``dr_lib.archive.verify_archive`` enforces it before the manifest is
parsed), so ``restore``, ``restore --auto``, ``restore --from``, ``pull`` and the drill of a real
archive cannot disagree. Keys come from the command line (``--verify-key``, which replaces the
configured ones) or from ``trust.verify_keys``; ``auto`` there is the pair ``k3s-dr install`` makes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dr_lib.config import DEFAULT_KEYS_DIR, TrustConfig
from dr_lib.errors import IntegrityError
from dr_lib.signing.keys import (
    SIGNING_KEY_NAME,
    VERIFY_KEY_NAME,
    SigningKey,
    VerifyKey,
    load_signing_key,
    load_verify_key,
)
from dr_lib.signing.verify import INVALID, MISSING, UNCHECKED, VALID, SignatureCheck

AUTO = "auto"


@dataclass(frozen=True)
class SignaturePolicy:
    keys: tuple[VerifyKey, ...] = ()
    allow_unsigned: bool = False  # accept a missing signature (never an invalid one) though keys are given

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(k.key_id for k in self.keys)

    def with_key(self, key: VerifyKey) -> SignaturePolicy:
        if key.key_id in self.key_ids:
            return self
        return SignaturePolicy((*self.keys, key), self.allow_unsigned)

    def refusal(self, check: SignatureCheck) -> str | None:
        """Why ``check`` is not acceptable under this policy (None: it is)."""
        refused = REFUSED_WHEN[check.state]
        return None if not refused(self) else REASONS[check.state](self, check)

    def refusal_error(self, check: SignatureCheck, what: str) -> IntegrityError | None:
        """The error (exit 8) that names ``what`` was refused and why, with what to do; None: accepted."""
        reason = self.refusal(check)
        return None if reason is None else IntegrityError(f"{what}: {reason}", hint=HINTS[check.state])

    def enforce(self, check: SignatureCheck, what: str) -> None:
        error = self.refusal_error(check, what)
        if error is not None:
            raise error


# When each state is refused (rules as data, a reason per row).
REFUSED_WHEN: dict[str, Callable[[SignaturePolicy], bool]] = {
    VALID: lambda _p: False,  # signed by a key we trust: the point of it all
    UNCHECKED: lambda _p: False,  # no key to check with: nothing is promised, nothing is refused
    MISSING: lambda p: bool(p.keys) and not p.allow_unsigned,  # keys given: unsigned is what a forger makes
    INVALID: lambda _p: True,  # a forged, altered or foreign signature: never, --allow-unsigned or not
}
REASONS: dict[str, Callable[[SignaturePolicy, SignatureCheck], str]] = {
    VALID: lambda _p, _c: "",
    UNCHECKED: lambda _p, _c: "",
    MISSING: lambda p, _c: f"it is not signed, and verify keys are given ({', '.join(p.key_ids)})",
    INVALID: lambda _p, c: c.reason,
}
HINTS: dict[str, str | None] = {
    VALID: None, UNCHECKED: None,
    MISSING: "an archive written before signing: pass --allow-unsigned if you trust where it came from",
    INVALID: "it was altered or forged, or signed by a key that is not configured (trust.verify_keys, --verify-key)",
}

NO_KEYS = SignaturePolicy()


def _auto(name: str, keys_dir: Path) -> Path | None:
    """The key ``install`` made, when it exists and this user may read it (else: none configured)."""
    path = keys_dir / name
    try:
        path.stat()
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        return None
    return path


def configured_verify_keys(trust: TrustConfig, keys_dir: Path = Path(DEFAULT_KEYS_DIR)) -> list[Path]:
    items = trust.verify_keys.split(",") if isinstance(trust.verify_keys, str) else trust.verify_keys  # env text
    paths: list[Path] = []
    for item in (i.strip() for i in items if i.strip()):
        path = _auto(VERIFY_KEY_NAME, keys_dir) if item == AUTO else Path(item)
        if path is not None and path not in paths:
            paths.append(path)
    return paths


def signature_policy(trust: TrustConfig, option_keys: Sequence[str] = (), *, allow_unsigned: bool = False,
                     keys_dir: Path = Path(DEFAULT_KEYS_DIR)) -> SignaturePolicy:
    """The verify keys named on the command line, else the configured ones; each file loaded and checked."""
    paths = [Path(p) for p in option_keys] if option_keys else configured_verify_keys(trust, keys_dir)
    return policy_of(paths, allow_unsigned=allow_unsigned)


def policy_of(paths: Sequence[Path], *, allow_unsigned: bool = False) -> SignaturePolicy:
    """A policy of exactly these verify key files (each loaded and checked; a key named twice counts once)."""
    keys: list[VerifyKey] = []
    for path in paths:
        key = load_verify_key(path)
        if key.key_id not in (k.key_id for k in keys):
            keys.append(key)
    return SignaturePolicy(tuple(keys), allow_unsigned)


def signing_key_path(trust: TrustConfig, option: str | None = None,
                     keys_dir: Path = Path(DEFAULT_KEYS_DIR)) -> Path | None:
    if option:
        return Path(option)
    if trust.signing_key == AUTO:
        return _auto(SIGNING_KEY_NAME, keys_dir)
    return Path(trust.signing_key) if trust.signing_key else None


def configured_signing_key(trust: TrustConfig, option: str | None = None,
                           keys_dir: Path = Path(DEFAULT_KEYS_DIR)) -> SigningKey | None:
    """The key archives (and reports) are signed with: ``--signing-key``, else ``trust.signing_key``."""
    path = signing_key_path(trust, option, keys_dir)
    return None if path is None else load_signing_key(path)
