"""docs/architecture.md stays true: its layer pictures are the import-linter `layers` contracts of
pyproject.toml, and every file, table or function its recipes and concept map name exists."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
RECIPES_HEADING = "## Adding something"


def picture(package: str) -> list[str]:
    """The layer lines of the code block after ``<!-- layers: package -->``, comments stripped."""
    block = re.search(rf"<!-- layers: {re.escape(package)} -->\s*```\n(.*?)```", DOC, re.DOTALL)
    assert block, f"docs/architecture.md has no layer picture for {package}"
    return [re.split(r"\s{2,}", line.strip())[0] for line in block.group(1).splitlines() if line.strip()]


def contract_layers(package: str) -> list[str]:
    found = [c["layers"] for c in CONTRACTS if c["type"] == "layers" and c["layers"][0].startswith(package + ".")]
    assert len(found) == 1, f"one layers contract for {package} expected, found {len(found)}"
    return [" | ".join(part.strip() for part in layer.split("|")) for layer in found[0]]


@pytest.mark.parametrize("package", ["dr_lib", "k3s_dr_testbed"])
def test_the_layer_picture_is_the_contract(package):
    assert picture(package) == contract_layers(package)


def recipes() -> list[tuple[str, str, str]]:
    section = DOC[DOC.index(RECIPES_HEADING):]
    rows = re.findall(r"^\| (a [^|]+?) \| `([^`]+)` \| `([^`]+)` \|", section, re.MULTILINE)
    return [(what, path, name) for what, path, name in rows]


def test_six_recipes():
    assert [what for what, _, _ in recipes()] == [
        "a kind to restore in order", "a sanitizer", "a host control", "a hook preset", "a metric",
        "a cluster provider"]


def top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


@pytest.mark.parametrize(("what", "path", "name"), recipes(), ids=[r[0] for r in recipes()])
def test_each_recipe_names_a_file_that_holds_its_table(what, path, name):
    assert (ROOT / path).is_file(), f"{what}: {path} does not exist"
    assert name in top_level_names(ROOT / path), f"{what}: {path} defines no {name}"


def test_every_path_the_page_names_exists():
    paths = set(re.findall(r"`((?:dr_lib|k3s_dr_testbed|tests|docs|deploy)/[^`\s]*)`", DOC))
    assert paths, "the page names no paths"
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/")).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_the_testbed_door_names_what_the_page_says():
    provider = top_level_names(ROOT / "k3s_dr_testbed" / "provider.py")
    assert {"start", "prepare", "real_node"} <= provider
