"""Which kubeconfig a command uses: the same order for every command that talks to a cluster.

1. ``--kubeconfig PATH``;
2. ``$KUBECONFIG`` (one path; kubectl's list of several files is refused, not merged);
3. the config key ``kubeconfig`` (or ``K3S_DR_KUBECONFIG``);
4. ``/etc/rancher/k3s/k3s.yaml``, what k3s writes on a server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dr_lib.config.schema import Config
from dr_lib.errors import UsageError

DEFAULT_KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
KUBECONFIG_ENV = "KUBECONFIG"


def kubeconfig_path(config: Config, option: str | None, env: Mapping[str, str] | None = None) -> str:
    """The kubeconfig path by the order above. Pure but for reading ``os.environ`` when ``env`` is None."""
    if option:
        return option
    from_env = (os.environ if env is None else env).get(KUBECONFIG_ENV, "")
    if from_env:
        if os.pathsep in from_env:
            raise UsageError(f"${KUBECONFIG_ENV} {from_env!r} lists several files: accepted is one path "
                             "(or pass --kubeconfig PATH)")
        return from_env
    return config.kubeconfig or DEFAULT_KUBECONFIG
