# ruff: noqa: PTH113, PTH114, PTH115, PTH116, PTH118, PTH208
# (plain os.path on strings: this file is sent to and run by whatever python3 the target host has)
"""The probe: one round trip that reads every file fact the controls judge, on the host under test.

This module is *sent as source* and run there with ``python3 -c`` (testinfra's ``host.run``), so
it uses the standard library only, reads and never writes, and prints one JSON object. It runs
on whatever python3 the host has (3.7+), which is why it avoids newer syntax at runtime.
``k3s-dr fix`` calls :func:`collect` in-process, so the repairs and the checks see the same facts.

Request (JSON, argv[1]): ``paths`` to stat; ``backup_dir`` + ``archive_glob`` to list archives;
``read`` files to return (small ones: config, waivers, logrotate, metrics); ``log`` + ``log_bytes``
to tail; ``scrape``: the metrics exporter's URL to GET (DR-METRICS-002). Cost stays bounded:
only archives that claim verification (a sidecar) are hashed, newest first, until one still
matches; only that one is opened and checked member by member.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import stat
import sys
import tarfile
import time
import urllib.error
import urllib.request
from typing import IO, Any

SIDECAR_SUFFIX = ".verified.json"
MANIFEST_MEMBER = "manifest.json"
READ_LIMIT = 256 * 1024
CHUNK = 1024 * 1024
# tarfile reads a GNU long-name or pax header's payload whole, whatever size the header claims
# (a 5 MB archive can announce a 200 MiB name); ours are far below these (see archive/tarstream.py).
MAX_LONG_NAME = 4096
MAX_PAX_HEADER = 64 * 1024


class BoundedTarInfo(tarfile.TarInfo):
    """tarfile's header parsing, with extension headers refused by size before their payload is read."""

    def _proc_gnulong(self, archive):  # type: ignore[no-untyped-def]  # tarfile's own (private) hook
        if self.size > MAX_LONG_NAME:
            raise tarfile.ReadError(f"a GNU long-name header of {self.size} bytes; the limit is {MAX_LONG_NAME}")
        return super()._proc_gnulong(archive)  # type: ignore[misc]

    def _proc_pax(self, archive):  # type: ignore[no-untyped-def]
        if self.size > MAX_PAX_HEADER:
            raise tarfile.ReadError(f"a pax header of {self.size} bytes; the limit is {MAX_PAX_HEADER}")
        return super()._proc_pax(archive)  # type: ignore[misc]


def _stat(path: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "path": path, "lexists": False, "exists": False, "is_link": False, "target": None, "resolved": None,
    }
    try:
        lst = os.lstat(path)
    except OSError:
        return info
    info["lexists"] = True
    info["is_link"] = stat.S_ISLNK(lst.st_mode)
    if info["is_link"]:
        info["target"] = os.readlink(path)
    info["resolved"] = os.path.realpath(path)
    info["lmtime"] = lst.st_mtime  # for a link: when it was last (re)pointed
    try:
        st = os.stat(path)
    except OSError:
        return info
    kind = "file" if stat.S_ISREG(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "other"
    info.update(
        exists=True, kind=kind, mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
        size=st.st_size, mtime=st.st_mtime, executable=os.access(path, os.X_OK) and kind == "file",
    )
    return info


def _digest(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    block = handle.read(CHUNK)
    while block:
        digest.update(block)
        block = handle.read(CHUNK)
    return digest.hexdigest()


def _sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return _digest(handle)


def _read(path: str, limit: int = READ_LIMIT) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return {"content": handle.read(limit).decode("utf-8", "replace"), "error": None}
    except FileNotFoundError:
        return {"content": None, "error": None}
    except OSError as exc:
        return {"content": None, "error": f"{type(exc).__name__}: {exc.strerror}"}


def _tail(path: str, size: int) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            handle.seek(max(0, end - size))
            data = handle.read()
    except FileNotFoundError:
        return {"lines": None, "error": None}
    except OSError as exc:
        return {"lines": None, "error": f"{type(exc).__name__}: {exc.strerror}"}
    lines = data.decode("utf-8", "replace").splitlines()
    if end > size and lines:
        lines = lines[1:]  # the first line was cut in the middle
    return {"lines": lines, "error": None}


def _sidecar(path: str) -> dict[str, Any] | None:
    try:
        with open(path + SIDECAR_SUFFIX, "rb") as handle:
            data = json.loads(handle.read(READ_LIMIT).decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"error": f"unreadable sidecar: {type(exc).__name__}"}
    return data if isinstance(data, dict) else {"error": "sidecar is not a JSON object"}


def _archives(directory: str, pattern: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    for name in names:
        path = os.path.join(directory, name)
        if not fnmatch.fnmatch(name, pattern) or os.path.islink(path) or not os.path.isfile(path):
            continue
        st = os.stat(path)
        found.append({"name": name, "path": path, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid,
                      "size": st.st_size, "mtime": st.st_mtime, "sidecar": _sidecar(path), "sha256": None,
                      "real": os.path.realpath(path)})
    found.sort(key=lambda a: (a["mtime"], a["name"]), reverse=True)
    return found


def _member_problem(member: tarfile.TarInfo) -> str | None:
    name = member.name
    if name.startswith("/") or ".." in name.split("/"):
        return f"unsafe member path {name!r}"
    if not member.isfile():
        return f"member {name!r} is not a regular file"
    return None


def _inspect(path: str) -> dict[str, Any]:
    """Open the archive and check its members against its manifest (a second, independent opinion)."""
    result: dict[str, Any] = {"manifest": None, "members": {}, "problems": []}
    try:
        with tarfile.open(path, "r:gz", tarinfo=BoundedTarInfo) as tar:
            first = True
            for member in tar:
                problem = _member_problem(member)
                if problem:
                    result["problems"].append(problem)
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                if member.name == MANIFEST_MEMBER:
                    if not first:
                        result["problems"].append("manifest.json is not the first member")
                    result["manifest"] = json.loads(handle.read(16 * 1024 * 1024).decode("utf-8"))
                else:
                    result["members"][member.name] = {"sha256": _digest(handle), "bytes": member.size}
                first = False
    except (OSError, tarfile.TarError, EOFError, ValueError) as exc:
        result["problems"].append(f"cannot read the archive: {type(exc).__name__}: {exc}")
    return result


def _hash_candidates(archives: list[dict[str, Any]], wanted: set[str]) -> str | None:
    """sha256 of the link targets, and of sidecar-bearing archives newest first until one matches."""
    newest_verified = None
    for archive in archives:
        claims = archive["sidecar"] if isinstance(archive["sidecar"], dict) else {}
        if archive["real"] in wanted or (newest_verified is None and "sha256" in claims):
            try:
                archive["sha256"] = _sha256(archive["path"])
            except OSError as exc:
                archive["sha256_error"] = exc.strerror
        if newest_verified is None and claims.get("sha256") and claims.get("sha256") == archive["sha256"]:
            newest_verified = archive["name"]
    return newest_verified


def _scrape(url: str, timeout: float) -> dict[str, Any]:
    """GET the metrics exporter (DR-METRICS-002), bypassing any proxy: loopback is local."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return {"status": response.status, "body": response.read(READ_LIMIT).decode("utf-8", "replace"),
                    "error": None}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "body": "", "error": f"HTTP {exc.code}"}
    except (OSError, ValueError) as exc:
        return {"status": None, "body": None, "error": f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"}


def collect(request: dict[str, Any]) -> dict[str, Any]:
    paths = list(request.get("paths", []))
    stats = {path: _stat(path) for path in paths}
    archives = _archives(request["backup_dir"], request["archive_glob"]) if request.get("backup_dir") else []
    wanted = {info["resolved"] for info in stats.values() if info["exists"]}
    newest_verified = _hash_candidates(archives, wanted)
    claimed = next((a for a in archives if isinstance(a["sidecar"], dict) and "sha256" in a["sidecar"]), None)
    deep = None
    if claimed is not None and request.get("inspect", True):
        deep = dict(_inspect(claimed["path"]), name=claimed["name"])
    scrape = _scrape(request["scrape"], float(request.get("scrape_timeout", 3))) if request.get("scrape") else None
    return {
        "now": time.time(),
        "monotonic": time.monotonic(),
        "utc_offset": -time.altzone if time.localtime().tm_isdst > 0 else -time.timezone,
        "stats": stats,
        "archives": archives,
        "newest_verified": newest_verified,
        "inspected": deep,
        "files": {path: _read(path) for path in request.get("read", [])},
        "log": _tail(request["log"], int(request.get("log_bytes", 65536))) if request.get("log") else None,
        "scrape": scrape,
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(collect(json.loads(sys.argv[1]))))
