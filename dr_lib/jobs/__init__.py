"""Jobs: one call per operation, between the CLI and the features.

A job takes the configuration, one typed options object (the command line's values, unparsed
no further than click leaves them) and a :class:`~dr_lib.jobs.report.Reporter` for the lines an
operator sees while it runs; it composes the features (backup and its offsite push, restore and
its application data, metrics records, locks) and returns one result value. The result says
what happened (``to_dict()`` for ``--json``) and, through ``exit_error``, how the run ends:
``None`` or the error (with its exit code) that the CLI raises after printing the result.

The CLI parses, calls one job and prints; the units ``install`` writes, the drill and tests run
the same jobs. Job modules import their features lazily where a command's start-up would pay
for it (see each module).
"""
