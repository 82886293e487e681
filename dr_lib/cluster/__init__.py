"""Clusters k3s-dr runs against, through one door (:mod:`dr_lib.cluster.provider`).

dr_lib itself has the ``kubeconfig`` provider: an existing cluster, which is what a drill on an
operator's machine uses (:mod:`dr_lib.cluster.kubeconfig`, test namespaces in
:mod:`dr_lib.cluster.namespaces`). Clusters started here (``local``, ``k3d``) come from the test
bed, the sibling package ``k3s_dr_testbed`` installed with the ``testbed`` extra.
"""
