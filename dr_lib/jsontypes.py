"""The one name for a decoded JSON object (an API object, a manifest, a report): a plain dict.

At the base of the layers (it imports nothing of ours), so every layer can use it.
"""

from __future__ import annotations

from typing import Any

JSONObject = dict[str, Any]
