"""The reference host: a container booting systemd with a k3s stand-in and k3s-dr installed
(:mod:`.host`), from images built locally and cached by content (:mod:`.image`, :mod:`.standin`,
:mod:`.wheel`, :mod:`.debs`). Used by the tests and by ``k3s-dr lab host up|down``."""
