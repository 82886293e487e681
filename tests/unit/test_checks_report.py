"""How results are shown: properties → result, terminal table, HTML cells, JSON."""

from __future__ import annotations

from dr_lib.checks.controls import BY_ID
from dr_lib.checks.model import failed
from dr_lib.checks.report import (
    control_properties,
    finding_properties,
    html_header_cells,
    html_row_cells,
    result_from,
    results_json,
    terminal_lines,
)


def _failed_link() -> list[tuple[str, object]]:
    finding = failed("… does not exist", "/var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz: missing")
    return [*control_properties(BY_ID["DR-LINK-002"], "docker://h1"),
            *finding_properties(finding, "fail", "k3s-dr fix   (creates it)")]


def test_properties_become_a_result_later_values_winning() -> None:
    result = result_from(_failed_link(), "error")
    assert result is not None
    assert (result.host, result.control, result.severity, result.verdict) == ("docker://h1", "DR-LINK-002",
                                                                              "critical", "fail")
    assert result.remediation == "k3s-dr fix   (creates it)"
    assert result_from([("other", 1)], "pass") is None


def test_terminal_lines_show_failures_with_their_fix() -> None:
    lines = terminal_lines([result_from(_failed_link(), "error")])  # type: ignore[list-item]
    assert "DR-LINK-002" in lines[1] and "FAIL" in lines[1]
    assert lines[2].strip().startswith("problem:") and lines[3].strip() == "fix:     k3s-dr fix   (creates it)"


def test_html_cells_are_escaped_and_aligned() -> None:
    props = [*control_properties(BY_ID["DR-LOG-001"], "ssh://a"), ("evidence", "<script>x</script>")]
    cells = html_row_cells(result_from(props, "pass"))
    assert len(cells) == len(html_header_cells()) == 7
    assert "&lt;script&gt;" in cells[5]
    assert html_row_cells(None) == ["<td></td>"] * 7


def test_json_counts_per_verdict_and_lists_hosts() -> None:
    a = result_from(_failed_link(), "error")
    b = result_from([*control_properties(BY_ID["DR-LOG-001"], "docker://h2"), ("verdict", "pass")], "pass")
    data = results_json([a, b])  # type: ignore[list-item]
    assert data["counts"] == {"fail": 1, "pass": 1} and data["hosts"] == ["docker://h1", "docker://h2"]
