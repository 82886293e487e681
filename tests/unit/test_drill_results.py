"""Verification results as values: completeness per kind, the diff text, the HTML that shows them."""

from __future__ import annotations

from dr_lib.drill.commands import still_waiting
from dr_lib.drill.report import failures_table
from dr_lib.drill.summary import banner
from dr_lib.drill.verify import ObjectResult, Verification


def _verification() -> Verification:
    return Verification([
        ObjectResult("Deployment", "deployments.apps", "a", "web", "equal"),
        ObjectResult("Deployment", "deployments.apps", "a", "api", "unhealthy", ("0/2 replicas Ready",)),
        ObjectResult("ConfigMap", "configmaps", "a", "kube-root-ca.crt", "left-out", ("published by the controller",)),
        ObjectResult("ConfigMap", "configmaps", "a", "<script>", "differs", ("data.x: backed up '1', restored '2'",)),
        ObjectResult("Secret", "secrets", "a", "gone", "missing", ("not found in the target cluster",)),
    ])


def test_completeness_per_kind_and_totals() -> None:
    verification = _verification()
    assert verification.per_kind()["ConfigMap"] == {"backed_up": 2, "expected": 1, "equal": 0, "differs": 1,
                                                    "missing": 0, "unhealthy": 0, "left_out": 1}
    assert verification.counts() == {"backed_up": 5, "expected": 4, "equal": 1, "differs": 1, "missing": 1,
                                     "unhealthy": 1, "left-out": 1}
    assert [f.name for f in verification.failures] == ["api", "<script>", "gone"]


def test_diff_text_lists_each_failing_object_and_why() -> None:
    text = _verification().diff_text()
    assert "Deployment a/api [unhealthy]\n    0/2 replicas Ready\n" in text
    assert "kube-root-ca.crt" not in text
    assert Verification([]).diff_text().startswith("no differences")


def test_html_escapes_what_objects_contain() -> None:
    table = failures_table(_verification())
    assert "&lt;script&gt;" in table and "<script>" not in table
    shown = banner({"verdict": "fail", "failed_step": "<verify>"})
    assert "failed at step &lt;verify&gt;" in shown and "<verify>" not in shown
    assert "Verdict: FAIL — failed at step 5 verify" in banner({"verdict": "fail", "failed_step": "verify"})


def test_still_waiting_names_what_restore_wait_was_waiting_for() -> None:
    result = {"wait": {"ready": False, "pending": {"pods shop/db-0": "pod Pending, not Ready",
                                                   "persistentvolumeclaims shop/data": "claim Pending"}}}
    assert still_waiting(result) == ("; still waiting for: pods shop/db-0 (pod Pending, not Ready), "
                                     "persistentvolumeclaims shop/data (claim Pending)")
    assert still_waiting({"wait": {"pending": {}}}) == ""
    assert still_waiting(None) == ""
