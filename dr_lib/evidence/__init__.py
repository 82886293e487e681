"""Evidence over time: report directories sealed and checked, read back (untrusted) into one
index with RTO/RPO trends, and the framework requirements each kind of evidence supports.

Shared by the drill (which writes reports), the host checks (which write reports too) and
``k3s-dr report`` (which reads them). Files in, files out: no processes, sockets or clusters.
"""
