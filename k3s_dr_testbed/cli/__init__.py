"""The test bed's commands, ``k3s-dr cluster`` and ``k3s-dr lab``: ``dr_lib.cli.main`` lists them
and loads them through the cluster door (:mod:`dr_lib.cluster.provider`)."""
