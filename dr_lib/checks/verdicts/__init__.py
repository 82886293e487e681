"""One verdict per control, grouped by what they judge: ``files`` (the backup directory, its archives
and links, the server token), ``units`` (systemd: k3s, backup service and timer, auto-restore),
``logs``, ``textfile`` (node_exporter's metrics), ``exporter`` (k3s-dr's metrics exporter),
``offsite`` and ``settings`` (k3s-dr's own configuration and waivers). Each is a pure function of a
:class:`dr_lib.checks.hostfacts.HostFacts`; the control table names it (``Control.verdict``).
"""
