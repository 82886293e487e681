"""The Kubernetes versions k3s-dr supports, read from ``kubernetes-versions.json`` beside this file.

That file is the one place the versions are written: the local provider builds ``kubernetes`` of
a release, the k3d provider (and CI's restore-drill workflow) runs its ``k3s_image``. Users name a
release by its minor (``1.37``), its exact patch (``1.37.2`` or ``v1.37.2``), or ``newest`` /
``oldest``; anything else is refused with the list of what is accepted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from dr_lib.errors import UsageError

TABLE = Path(__file__).resolve().parent / "kubernetes-versions.json"
NEWEST = "newest"
OLDEST = "oldest"

_MINOR = re.compile(r"^1\.(\d{1,3})$")
_PATCH = re.compile(r"^v1\.(\d{1,3})\.(\d{1,3})$")
_K3S_IMAGE = re.compile(r"^rancher/k3s:v1\.(\d{1,3})\.\d{1,3}-k3s\d{1,2}$")
_REQUEST = re.compile(r"^v?1\.\d{1,3}(\.\d{1,3})?$")


@dataclass(frozen=True)
class Release:
    """One supported minor: the upstream tag the test bed builds and the k3s image k3d runs."""

    minor: str  # "1.37"
    kubernetes: str  # "v1.37.2": a k8s.io/kubernetes tag on the Go module proxy
    k3s_image: str  # "rancher/k3s:v1.37.1-k3s1"
    note: str

    @property
    def minor_number(self) -> int:
        return int(self.minor.split(".")[1])

    @property
    def k3s_tag(self) -> str:
        return self.k3s_image.partition(":")[2]

    def to_json(self) -> dict[str, str]:
        return {"minor": self.minor, "kubernetes": self.kubernetes, "k3s_image": self.k3s_image, "note": self.note}


def _release(row: Any, where: str) -> Release:
    if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("minor", "kubernetes", "k3s_image")):
        raise ValueError(f"{where}: each release needs the strings minor, kubernetes and k3s_image")
    minor, kubernetes, image = row["minor"], row["kubernetes"], row["k3s_image"]
    minor_match, patch_match, image_match = _MINOR.match(minor), _PATCH.match(kubernetes), _K3S_IMAGE.match(image)
    if minor_match is None or patch_match is None or image_match is None:
        raise ValueError(f"{where}: {minor!r}, {kubernetes!r}, {image!r} are not a minor (1.N), a tag (v1.N.P) and "
                         "a rancher/k3s:v1.N.P-k3sK image")
    if not minor_match.group(1) == patch_match.group(1) == image_match.group(1):
        raise ValueError(f"{where}: minor {minor} does not match {kubernetes} and {image}")
    return Release(minor, kubernetes, image, str(row.get("note", "")))


def parse_table(text: str, where: str = "kubernetes-versions.json") -> tuple[Release, ...]:
    """The releases, oldest first; a malformed table raises ValueError (a packaging bug). Pure."""
    data = json.loads(text)
    rows = data.get("releases") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{where}: no releases")
    releases = tuple(sorted((_release(row, where) for row in rows), key=lambda r: r.minor_number))
    minors = [r.minor for r in releases]
    if len(set(minors)) != len(minors):
        raise ValueError(f"{where}: a minor is listed twice: {', '.join(minors)}")
    return releases


@cache
def supported() -> tuple[Release, ...]:
    """Every supported release, oldest first."""
    return parse_table(TABLE.read_text(encoding="utf-8"), str(TABLE))


def newest() -> Release:
    """The default everywhere: the newest supported minor."""
    return supported()[-1]


def oldest() -> Release:
    """CI's compatibility run: the oldest supported minor."""
    return supported()[0]


def tested() -> tuple[Release, ...]:
    """The releases CI builds and tests (oldest and newest): what a test over each version runs on."""
    return tuple(dict.fromkeys((oldest(), newest())))


def accepted_text(releases: tuple[Release, ...] | None = None) -> str:
    table = releases or supported()
    return ", ".join(f"{r.minor} ({r.kubernetes})" for r in table) + f", {NEWEST}, {OLDEST}"


def resolve(request: str | None, releases: tuple[Release, ...] | None = None) -> Release:
    """The release ``request`` names (None: the newest), or a UsageError listing what is accepted. Pure."""
    table = releases or supported()
    text = NEWEST if request is None else request.strip()
    if text == NEWEST:
        return table[-1]
    if text == OLDEST:
        return table[0]
    if _REQUEST.match(text):
        wanted = text.removeprefix("v")
        for release in table:
            if wanted in (release.minor, release.kubernetes.removeprefix("v")):
                return release
    raise UsageError(f"Kubernetes version {request!r} is not supported: accepted is {accepted_text(table)}")


def release_of(kubernetes_version: str, releases: tuple[Release, ...] | None = None) -> Release | None:
    """The supported release a server's version (``v1.37.2``) belongs to, or None. Pure."""
    table = releases or supported()
    return next((r for r in table if r.kubernetes == kubernetes_version), None)
