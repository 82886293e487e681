"""Host conformance, as data and pure verdicts: the control table (:mod:`.controls`, one row per
control naming its verdict in :mod:`.verdicts` and the facts it reads), waivers, the facts of a
host (:mod:`.hostfacts`, gathered by :mod:`.gather` through any command runner, with :mod:`.probe`
run on the host), judging (:mod:`.evaluate`) and how results are shown (:mod:`.report`). The
pytest-testinfra suite and ``k3s-dr check`` are :mod:`dr_lib.hostcheck`; ``k3s-dr fix`` uses the
same facts and verdicts.
"""
