"""Port choice (pure with an injected availability check) and /proc/net/tcp parsing."""

import random

import pytest

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.clusters.ports import PORT_RANGE, choose_ports, parse_listening


def test_chooses_distinct_free_ports_in_range_avoiding_recorded_ones() -> None:
    taken = set(range(20000, 20050))
    ports = choose_ports(6, avoid={20100, 20101}, is_free=lambda p: p not in taken, rng=random.Random(1),
                         port_range=(20000, 20120))
    assert len(set(ports)) == 6
    assert all(20050 <= p <= 20120 and p not in (20100, 20101) for p in ports)


def test_default_range_is_below_the_ephemeral_range() -> None:
    assert PORT_RANGE[1] < 32768
    ports = choose_ports(3, is_free=lambda _p: True, rng=random.Random(7))
    assert all(PORT_RANGE[0] <= p <= PORT_RANGE[1] for p in ports)


def test_gives_up_with_a_clear_error_when_nothing_is_free() -> None:
    with pytest.raises(EnvironmentProblem, match="found only 0 of 2 free loopback ports"):
        choose_ports(2, is_free=lambda _p: False, attempts=20)


PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:5DC0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:5DC1 0100007F:A2B4 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1
"""


def test_parse_listening_keeps_only_listen_sockets() -> None:
    assert parse_listening(PROC_NET_TCP) == {0x5DC0, 22}
