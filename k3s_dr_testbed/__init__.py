"""k3s-dr's test bed: where the project makes the machines it tests on and drills with.

Not the product: an operator's k3s server needs none of it. Installed with the ``testbed``
extra (``pip install 'k3s-dr[testbed]'``); dr_lib reaches it only through its cluster door,
:mod:`dr_lib.cluster.provider`, which loads :mod:`k3s_dr_testbed.provider` by name.

- :mod:`.clusters`: local clusters from binaries (kine, an upstream control plane built from Go
  modules, kwok nodes) and the k3d provider; the Go module is package data
  (``clusters/kube-control-plane/``);
- :mod:`.realnode`: one real node (kubelet, containerd, CNI) beside the kwok ones;
- :mod:`.lab`: the reference host (systemd in a container) and the boot drill;
- :mod:`.docker`: the door to the Docker engine and the locally built images;
- :mod:`.apps`: the applications hook tests and drills back up for real, and their image;
- :mod:`.s3`: a real S3 server (versitygw) on loopback;
- :mod:`.cli`: ``k3s-dr cluster`` and ``k3s-dr lab``.
"""
