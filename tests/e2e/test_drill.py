"""The restore drill, one test per step: the very tests `k3s-dr drill` runs (see conftest.py)."""

from dr_lib.drill.suite.test_steps import (  # noqa: F401 - collected by pytest from this module
    drill,
    test_1_source_cluster_seeded,
    test_2_backup,
    test_3_destroy,
    test_4_restore,
    test_5_verify,
    test_6_judge_rto_rpo,
)
