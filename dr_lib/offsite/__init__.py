"""Offsite copies: age-encrypted archives on S3, deduplicated restic repositories (docs/offsite.md).

Entry points: :func:`dr_lib.offsite.push.push_archive`, :func:`dr_lib.offsite.pull.pull`,
:func:`dr_lib.offsite.targets.open_target` (``list_copies``), :func:`dr_lib.offsite.crypto.open_for_reading`
(a readable plaintext for any archive path, ``.age`` or not) and :mod:`dr_lib.offsite.sealed`
(encrypted archives at rest with a sidecar that records the encryption).
"""
