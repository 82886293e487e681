"""Memory stays bounded on hostile archives: ``k3s-dr verify`` on an archive whose first header announces
(and carries) a 200 MiB GNU long name exits 8 with one line, its peak RSS measured from outside.

tarfile read such a payload whole: ~620 MiB for this archive before the reader refused it. The bound
asserted here (150 MiB) is a resource bound, generous on purpose; the process measured is the real
CLI, run by a small wrapper that reports its child's ``ru_maxrss``.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit._archive_factory import tar_header

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
LONG_NAME = 200 * MiB
RSS_BOUND_MIB = 150
K3S_DR = str(Path(sys.executable).parent / "k3s-dr")
MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"code": done.returncode, "stderr": done.stderr,
                  "max_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def name_bytes() -> bytes:
    """1 MiB of a long name that compresses ~20x, as the issue's archive did: below the gzip-bomb ratio
    (200x), so only a bound on header sizes stops it — not the bomb check."""
    noise = os.urandom(MiB)
    return bytes(byte if byte >= 250 else 97 for byte in noise)


def long_name_archive(path: Path) -> Path:
    """A real 200 MiB long name (streamed, never held in memory here), then a small manifest member."""
    chunk = name_bytes()
    with gzip.open(path, "wb", compresslevel=6) as out:
        out.write(tar_header(b"././@LongLink", LONG_NAME, b"L"))
        for _ in range(LONG_NAME // MiB):
            out.write(chunk)
        out.write(tar_header(b"manifest.json", 2, b"0") + b"{}" + b"\0" * 510 + b"\0" * 1024)
    return path


def measured(*command: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, timeout=600,
                          check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_verify_of_a_200_mib_long_name_exits_8_in_bounded_memory(tmp_path: Path) -> None:
    archive = long_name_archive(tmp_path / "k3s-dr-20261128T100000Z.tar.gz")
    assert 20 < LONG_NAME / archive.stat().st_size < 200  # ~10 MB on disk: below the gzip-bomb ratio
    result = measured(K3S_DR, "verify", str(archive))
    print(f"peak RSS of k3s-dr verify: {result['max_rss_mib']:.1f} MiB")  # the number for the record (-s)
    assert result["code"] == 8, result
    stderr = str(result["stderr"])
    assert stderr.count("\n") == 1 and "GNU long-name header of 209715200 bytes" in stderr, stderr
    assert float(str(result["max_rss_mib"])) < RSS_BOUND_MIB, result
