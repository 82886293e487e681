"""Typed configuration: ``/etc/k3s-dr/config.yaml``, ``--config``, environment overrides.

The schema is data: nested frozen dataclasses whose fields carry a check and a sentence
saying what is accepted. Loading walks the schema, so every key is validated the same way
and a bad value yields one :class:`ConfigError` naming key, value and what is accepted.
Precedence, lowest first: defaults (the seed's paths) → the YAML file → ``K3S_DR_*``
environment variables (``K3S_DR_BACKUP_DIR`` overrides ``backup.dir``).
"""

from dr_lib.config.fields import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    DEFAULT_KEYS_DIR,
    DURATION_ACCEPTED,
    ENV_PREFIX,
    parse_duration,
    parse_size,
)
from dr_lib.config.kubeconfig import DEFAULT_KUBECONFIG, KUBECONFIG_ENV, kubeconfig_path
from dr_lib.config.loader import config_from_text, duration_seconds, load_config
from dr_lib.config.schema import (
    BackupConfig,
    ChecksConfig,
    Config,
    DataConfig,
    DrillConfig,
    DrillImagesConfig,
    HooksConfig,
    MetricsConfig,
    OffsiteConfig,
    OffsiteTargetConfig,
    RestoreConfig,
    TargetsConfig,
    TrustConfig,
    UnitsConfig,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_KEYS_DIR",
    "DEFAULT_KUBECONFIG",
    "DURATION_ACCEPTED",
    "ENV_PREFIX",
    "KUBECONFIG_ENV",
    "BackupConfig",
    "ChecksConfig",
    "Config",
    "DataConfig",
    "DrillConfig",
    "DrillImagesConfig",
    "HooksConfig",
    "MetricsConfig",
    "OffsiteConfig",
    "OffsiteTargetConfig",
    "RestoreConfig",
    "TargetsConfig",
    "TrustConfig",
    "UnitsConfig",
    "config_from_text",
    "duration_seconds",
    "kubeconfig_path",
    "load_config",
    "parse_duration",
    "parse_size",
]
