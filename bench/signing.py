"""Benchmark: what signing costs a backup, and what checking a signature costs a verification.

    .venv/bin/python bench/signing.py --objects 10000 --runs 5

Writes one archive of N ConfigMaps with the real writer, unsigned (the baseline) and signed, and
verifies it completely without verify keys (the baseline) and with one (the signature judged
before the manifest is parsed). Also times the signature alone (sign, check) and the first load
of a key in a fresh process (cryptography's import, which a command pays once, and the key file). Medians over --runs.
The LAST line printed is one JSON object; the lines before it give the ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dr_lib.archive import format as fmt  # noqa: E402
from dr_lib.archive.access import verify_archive  # noqa: E402
from dr_lib.archive.writer import archive_head, write_archive  # noqa: E402
from dr_lib.signing.keys import generate_keypair, load_signing_key  # noqa: E402
from dr_lib.signing.policy import SignaturePolicy  # noqa: E402
from dr_lib.signing.verify import check, sign  # noqa: E402
from tests.unit._archive_factory import CONFIGMAPS, good_archive  # noqa: E402


def median_ms(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="k3s-dr-bench-signing-"))
    try:
        pair = generate_keypair(work / "keys")
        key = load_signing_key(pair.signing_key)
        trust = SignaturePolicy((key.verify_key(),))
        source = good_archive(work, {CONFIGMAPS: [CONFIGMAPS.obj(f"cm-{i}", data={"v": f"{i:08d}" * 16})
                                                  for i in range(args.objects)]})
        manifest = verify_archive(source).manifest
        members = work / "members"
        from dr_lib.offsite.members import extract_members  # noqa: PLC0415

        extract_members(source, members)
        sources = {path: members / path for path in manifest.member_paths()}
        out = work / "out"
        out.mkdir()

        def write(signed: bool) -> None:
            for old in out.iterdir():
                old.unlink()
            signer = partial(sign, key=key, signed=fmt.MANIFEST_MEMBER) if signed else None
            write_archive(out, manifest, sources, head=archive_head(manifest, signer))

        write_plain = median_ms(lambda: write(False), args.runs)
        write_signed = median_ms(lambda: write(True), args.runs)
        signed_archive = next(out.iterdir())
        verify_plain = median_ms(lambda: verify_archive(signed_archive), args.runs)
        verify_signed = median_ms(lambda: verify_archive(signed_archive, trust), args.runs)
        payload = manifest.to_json()
        document = sign(payload, key, fmt.MANIFEST_MEMBER)
        sign_ms = median_ms(lambda: sign(payload, key, fmt.MANIFEST_MEMBER), max(args.runs, 50))
        check_ms = median_ms(lambda: check(payload, document, trust.keys, fmt.MANIFEST_MEMBER), max(args.runs, 50))
        cold = subprocess.run([sys.executable, "-c", "import time; from pathlib import Path; import dr_lib.config; "
                               "from dr_lib.signing.keys import load_signing_key; t = time.perf_counter(); "
                               f"load_signing_key(Path({str(pair.signing_key)!r})); "
                               "print(round((time.perf_counter() - t) * 1000, 3))"],
                              capture_output=True, text=True, check=True, cwd=ROOT)
        result = {"objects": args.objects, "archive_bytes": signed_archive.stat().st_size, "runs": args.runs,
                  "write_unsigned_ms": write_plain, "write_signed_ms": write_signed,
                  "write_ratio": round(write_signed / write_plain, 3),
                  "verify_without_key_ms": verify_plain, "verify_with_key_ms": verify_signed,
                  "verify_ratio": round(verify_signed / verify_plain, 3),
                  "sign_ms": sign_ms, "check_ms": check_ms, "first_key_load_ms": float(cold.stdout.strip())}
        print(f"write: signed/unsigned = {result['write_ratio']}  verify: with key/without = "
              f"{result['verify_ratio']}  (sign {sign_ms} ms, check {check_ms} ms per archive)")
        print(json.dumps(result, sort_keys=True))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
