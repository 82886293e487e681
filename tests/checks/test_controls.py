"""``pytest tests/checks [--hosts=…]``: the conformance suite shipped in the package
(:mod:`dr_lib.hostcheck.test_controls`: one test per control of the table in
``dr_lib/checks/controls.py``), run from the repository. ``k3s-dr check`` runs the same test."""

from dr_lib.hostcheck.test_controls import test_control

__all__ = ["test_control"]
