"""Finding and removing mounts under a directory: the parser on recorded text, removal on real mounts."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from k3s_dr_testbed.docker.mounts import current_mounts_under, mounts_under, unmount_all_under

MOUNTINFO = """\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:26 / /srv/node rw shared:2 - tmpfs tmpfs rw
31 30 0:27 / /srv/node/kubelet/pods/a/volumes rw shared:3 - tmpfs tmpfs rw
32 22 0:28 / /srv/node-other rw shared:4 - tmpfs tmpfs rw
33 30 0:29 / /srv/node/with\\040space rw shared:5 - tmpfs tmpfs rw
34 30 254:0 /srv/node/kubelet /srv/node/kubelet rw shared:6 - ext4 /dev/vda rw
"""


def test_mounts_under_lists_deepest_first_and_skips_siblings_with_the_same_prefix() -> None:
    found = mounts_under(MOUNTINFO, Path("/srv/node"))
    assert found[0] == "/srv/node/kubelet/pods/a/volumes"
    assert found[-1] == "/srv/node"
    assert "/srv/node-other" not in found
    assert "/srv/node/with space" in found  # mountinfo's octal escape decoded
    assert set(found) == {"/srv/node", "/srv/node/kubelet/pods/a/volumes", "/srv/node/with space",
                          "/srv/node/kubelet"}


def test_mounts_under_a_dir_without_mounts_is_empty() -> None:
    assert mounts_under(MOUNTINFO, Path("/var")) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_unmount_all_under_removes_stacked_and_nested_real_mounts(tmp_path: Path) -> None:
    top = tmp_path / "node"
    nested = top / "pods" / "vol"
    top.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(top)], check=True)
    nested.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(nested)], check=True)
    subprocess.run(["mount", "--bind", str(top), str(top)], check=True)  # stacked, like the kubelet's root
    try:
        assert len(current_mounts_under(top)) == 3
        result = unmount_all_under(top, time.monotonic() + 10)
        assert result.remaining == ()
        assert current_mounts_under(top) == []
        assert len(result.unmounted) >= 3
    finally:
        for point in current_mounts_under(top):
            subprocess.run(["umount", "-l", point], check=False)
