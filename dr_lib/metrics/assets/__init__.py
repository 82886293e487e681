"""The monitoring assets, one source for any ``metrics.prefix``: the Grafana dashboard (built with
Grafana's foundation SDK), the Prometheus alert rules and their promtool tests. ``deploy/`` holds the
default rendering; ``k3s-dr metrics render`` writes them for the configured prefix."""

from dr_lib.metrics.assets.options import AlertTuning, AssetOptions
from dr_lib.metrics.assets.render import RenderedAssets, asset_texts, rules_yaml, write_assets

__all__ = ["AlertTuning", "AssetOptions", "RenderedAssets", "asset_texts", "rules_yaml", "write_assets"]
