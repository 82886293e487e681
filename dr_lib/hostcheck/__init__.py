"""The host conformance suite, shipped in the package: a pytest-testinfra plugin (:mod:`.plugin`,
registered as the ``pytest11`` entry point ``dr_lib.hostcheck.plugin``) that runs one test per row
of :data:`dr_lib.checks.controls.CONTROLS` (:mod:`.test_controls`) on each host, with its reports
(:mod:`.session`, :mod:`.reports`); and ``k3s-dr check``'s engine (:mod:`.runner`), which runs that
suite with pytest in-process. The judging itself is pure and lives in :mod:`dr_lib.checks`.
"""
