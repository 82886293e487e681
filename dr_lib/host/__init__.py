"""k3s-dr on a host: systemd units rendered from the config (:mod:`.units`), ``k3s-dr install``
(:mod:`.install`) and ``k3s-dr fix`` (:mod:`.fix`); changes planned as values (:mod:`.steps`),
applied atomically (:mod:`.fsops`)."""
