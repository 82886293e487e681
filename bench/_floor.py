"""The backup floor: a bare paginated LIST (urllib, limit 500, json.loads), nothing written.

Standard library and PyYAML only, so that run as a program it is the smallest Python process
that lists the objects: ``python bench/_floor.py KUBECONFIG KINDS_JSON`` (KINDS_JSON: a list
of [group, version, plural]). bench/backup.py times it in-process (``floor_s``) and as such a
process (``floor_process_s``), the way our CLI is timed.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import urllib.request
from pathlib import Path

import yaml


def bare_list(kubeconfig: Path, kinds: list[tuple[str, str, str]]) -> int:
    """Every object of ``kinds``, page by page; returns how many were listed."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    token = config["users"][0]["user"]["token"]
    context = ssl.create_default_context()
    ca = cluster.get("certificate-authority-data")
    if ca:
        context.load_verify_locations(cadata=base64.b64decode(ca).decode())
    server = cluster["server"]
    objects = 0
    for base in (f"/api/{v}/{p}" if not g else f"/apis/{g}/{v}/{p}" for g, v, p in kinds):
        token_continue = ""
        while True:
            url = f"{server}{base}?limit=500" + (f"&continue={token_continue}" if token_continue else "")
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}",
                                                           "Accept": "application/json"})
            with urllib.request.urlopen(request, context=context) as response:
                body = json.loads(response.read())
            objects += len(body.get("items") or [])
            token_continue = (body.get("metadata") or {}).get("continue") or ""
            if not token_continue:
                break
    if objects == 0:
        raise RuntimeError("floor listed no objects")
    return objects


if __name__ == "__main__":
    print(bare_list(Path(sys.argv[1]), [tuple(k) for k in json.loads(sys.argv[2])]))
