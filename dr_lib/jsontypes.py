"""The one name for a decoded JSON object (an API object, a manifest, a report): a plain dict.

At the base of the layers (it imports nothing of ours), so every layer can use it; with it, the
one way an object is encoded for the API server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

JSONObject = dict[str, Any]


def encode_compact(obj: Mapping[str, Any]) -> bytes:
    """An object's wire form (compact JSON, UTF-8): what restore sends, and what a plan stores."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
