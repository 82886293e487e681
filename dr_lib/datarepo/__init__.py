"""The data repository: where application data (volume copies, dumps) lives, deduplicated, beside the archives.

A restic repository in the backup directory (``<backup.dir>/data``), driven through one door
(:mod:`dr_lib.datarepo.restic`); :mod:`dr_lib.datarepo.repository` knows its layout, key and
commands; :mod:`dr_lib.datarepo.prune` decides what the archives' rotation lets go. See
docs/archive-format.md.
"""
