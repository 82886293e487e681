"""A volume restored the way the boot-time unit runs it: only k3s-auto-restore.service's capabilities, no new
privileges (``setpriv``, the same kernel mechanisms systemd's ``CapabilityBoundingSet=`` and
``NoNewPrivileges=`` set), real restic against a real repository.

restic reaches the staging directory through the restoring process's descriptor (``/proc/<pid>/fd/<n>``):
that must work without CAP_SYS_PTRACE. A volume carrying file capabilities (``security.capability``,
which needs CAP_SETFCAP to write) and setuid files must come back whole, with neither.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dr_lib.datarepo.repository import DataRepository
from dr_lib.host.sandbox import _CAPABILITIES, Role  # the unit's own list, not a copy
from tests.integration._offsite_env import restic_or_skip

pytestmark = pytest.mark.slow

CHILD = """
import json, sys
from pathlib import Path
from dr_lib.archive.dataentry import RESTIC_STORE, VOLUME, DataEntry
from dr_lib.hooks import datasource
from dr_lib.hooks.datasource import RepositorySource
from dr_lib.hooks.restorevolumes import VolumeRestorer, preflight
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.zfs import ZfsBackend

backups, snapshot, tree, source, roots, files, content = sys.argv[1:]
key = (Path(backups) / "data.key").read_bytes()
datasource.read_repository_key = lambda _archive: key  # the archive itself is not what this test is about
digest = "0" * 64
entry = DataEntry("data/volumes/shop/pvc-x.dir", VOLUME, int(content), digest,
                  {"node_path": roots + "/pvc-x", "tree_sha256": digest, "files": int(files),
                   "content_bytes": int(content)}, RESTIC_STORE, snapshot, tree, source)
settings = HookSettings(volume_roots=(roots,))
targets, problems = preflight([entry], settings)
reports = []
with RepositorySource(Path(backups) / "k3s-dr-x.tar.gz") as repository:
    problems += repository.resolve([entry])
    restorer = VolumeRestorer(settings, targets, ZfsBackend(), reports.append)
    restorer.from_repository(repository, [entry])
bounding = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("CapBnd:"))
print(json.dumps({"problems": problems, "failures": restorer.failures, "reports": reports, "bounding": bounding}))
"""


def file_capability(path: Path) -> None:
    """``cap_net_bind_service+ep`` as setcap writes it (VFS_CAP_REVISION_2)."""
    os.setxattr(path, "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0))


def test_a_volume_restores_with_only_the_auto_restore_units_capabilities(tmp_path: Path) -> None:
    restic_or_skip()
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop capabilities like the unit")
    source = tmp_path / "storage-src" / "pvc-x"
    (source / "bin").mkdir(parents=True)
    tool = source / "bin" / "tool"
    tool.write_bytes(b"\x7fELF not really\n")
    tool.chmod(0o4755)
    file_capability(tool)
    os.setxattr(source, "user.planted", b"1")
    (source / "data.bin").write_bytes(os.urandom(200_000))
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    repository = DataRepository(backups)
    deadline = time.monotonic() + 300
    repository.ensure(deadline)
    summary = repository.backup([str(source)], excludes=[], tags=["archive:sandboxed"], when="2026-12-05 00:00:00",
                                exclude_file=backups / ".excludes", deadline=deadline)
    snapshot, _nodes = repository.listing(summary.short_id, deadline)
    roots = tmp_path / "storage"
    roots.mkdir()

    capabilities = ",".join("+" + name.removeprefix("CAP_").lower() for name in _CAPABILITIES[Role.AUTO_RESTORE])
    done = subprocess.run(["setpriv", f"--bounding-set=-all,{capabilities}", "--inh-caps=-all", "--no-new-privs",
                           sys.executable, "-c", CHILD, str(backups), snapshot.id, snapshot.tree, str(source),
                           str(roots), "2", str(200_000 + len(b"\x7fELF not really\n"))],
                          capture_output=True, text=True, timeout=300, check=False, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert int(result["bounding"], 16) == sum(1 << n for n in (0, 1, 2, 3, 4))  # chown, dac_*, fowner, fsetid
    assert (result["problems"], result["failures"]) == ([], [])
    assert [r["action"] for r in result["reports"]] == ["placed"]

    restored = roots / "pvc-x"
    assert (restored / "data.bin").read_bytes() == (source / "data.bin").read_bytes()
    assert (restored / "bin" / "tool").read_bytes() == tool.read_bytes()
    assert stat.S_IMODE((restored / "bin" / "tool").stat().st_mode) == 0o755  # setuid gone
    assert [os.listxattr(p) for p in (restored, restored / "bin" / "tool")] == [[], []]
    assert sorted(p.name for p in roots.iterdir()) == ["pvc-x"]  # no staging directory left
