"""Host conformance, as data and pure verdicts: the control catalogue (:mod:`.controls`), waivers,
the facts of a host (:mod:`.hostfacts`, gathered by :mod:`.gather` through any command runner,
with :mod:`.probe` run on the host), one verdict per control (:mod:`.evaluate`) and how results
are shown (:mod:`.report`). The pytest-testinfra suite is ``tests/checks``; ``k3s-dr fix`` uses
the same facts and verdicts.
"""
