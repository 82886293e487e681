"""The boot identity of ``restore --auto``: the kernel's boot id plus init's start time.

Found by the boot drill: in a container host, the kernel's boot id survives ``docker restart``,
so "at most one restore per boot" refused the restore after a later real boot of the host.
"""

from __future__ import annotations

import pytest

from dr_lib.restore.auto import boot_identity

KERNEL = "14d08312-758c-4442-9b7b-487b6a8626a2\n"


def _stat(comm: str, starttime: int) -> str:
    # proc(5): pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice num_threads itrealvalue starttime ...
    return f"1 ({comm}) S 0 1 1 0 -1 4194560 100 200 3 4 5 6 7 8 20 0 1 0 {starttime} 22245376 3000\n"


def test_container_reboots_are_new_boots_with_the_same_kernel() -> None:
    first = boot_identity(KERNEL, _stat("systemd", 517447))
    second = boot_identity(KERNEL, _stat("systemd", 528465))
    assert first != second
    assert first == "14d08312-758c-4442-9b7b-487b6a8626a2+init@517447"


def test_one_boot_keeps_one_identity() -> None:
    assert boot_identity(KERNEL, _stat("systemd", 24)) == boot_identity(KERNEL, _stat("systemd", 24))


@pytest.mark.parametrize("comm", ["init", "my ) init", "a b c"])
def test_init_names_with_spaces_or_parentheses(comm: str) -> None:
    assert boot_identity(KERNEL, _stat(comm, 99)).endswith("+init@99")


NOT_A_NUMBER = _stat("init", 1).replace(" 1 0 1 ", " 1 0 x ")


@pytest.mark.parametrize("stat", [None, "", "1 (init) S 0 1", "garbage", NOT_A_NUMBER])
def test_unreadable_or_odd_stat_falls_back_to_the_kernel_boot_id(stat: str | None) -> None:
    assert boot_identity(KERNEL, stat) == KERNEL.strip()
