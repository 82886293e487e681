"""Commands take their options as one typed value (``cli.common.gather``), and stay thin.

The limits of issue 16: no CLI function takes more than 6 parameters (a command: click's
context, its options object, an output flag or two), none takes ``**kwargs``, no CLI module is
longer than 150 lines.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest

import dr_lib.cli
from dr_lib.cli.common import build
from dr_lib.cli.main import COMMAND_MODULES, load_command
from dr_lib.jobs.restore import PlanFilters, RestoreOptions

CLI_DIR = Path(dr_lib.cli.__file__).parent
MAX_PARAMETERS = 6
MAX_LINES = 150


def _gathered_commands() -> list[click.Command]:
    commands = [load_command(name) for name in sorted(COMMAND_MODULES)]
    return [c for c in commands if hasattr(c.callback, "gathered")]


def test_the_commands_that_take_options_objects() -> None:
    assert {c.name for c in _gathered_commands()} >= {"backup", "restore", "diff", "drill", "push", "pull",
                                                      "install", "fix"}


@pytest.mark.parametrize("command", _gathered_commands(), ids=lambda c: c.name)
def test_every_parameter_lands_in_an_options_object_or_the_command(command: click.Command) -> None:
    """Each click parameter is a field of a gathered dataclass or a parameter of the function, and
    each field is a click parameter: a renamed option fails here, not at an operator's first run."""
    params: dict[str, Any] = {p.name: p.get_default(click.Context(command)) for p in command.params
                              if p.name and p.expose_value}  # unexposed (check's refused -n): never passed on
    parts = command.callback.gathered  # type: ignore[union-attr]
    built = {name: build(cls, params) for name, cls in parts.items()}
    names = list(inspect.signature(command.callback.__wrapped__).parameters)  # type: ignore[union-attr]
    assert names[:1 + len(built)] == ["ctx", *built]
    assert set(names[1 + len(built):]) == set(params), "left over for the function: " + ", ".join(params)


def test_nested_options_are_built_from_the_same_flat_parameters() -> None:
    params: dict[str, Any] = {
        "archive": "a.tar.gz", "kubeconfig": None, "dry_run": True, "wait": False, "wait_timeout": "2m",
        "policy": "update", "ledger_dir": None, "workers": 4, "data": False, "from_remote": None, "identity": None,
        "namespaces": ("shop",), "exclude_namespaces": (), "kinds": ("Deployment",), "exclude_kinds": (),
        "mappings": ("shop:shop-2",), "cluster_resources": None, "preserve_nodeports": True, "as_json": True,
        "verify_keys": ("/k/verify-key.pem",), "allow_unsigned": False,
        "test_disable_sanitizer": (),
    }
    options = build(RestoreOptions, params)
    assert options.filters == PlanFilters(namespaces=("shop",), kinds=("Deployment",), mappings=("shop:shop-2",),
                                          preserve_nodeports=True)
    assert (options.archive, options.dry_run, options.policy, options.workers) == ("a.tar.gz", True, "update", 4)
    assert (options.verify_keys, options.allow_unsigned) == (("/k/verify-key.pem",), False)
    assert params == {"as_json": True}  # what no field claims is left for the command


def test_a_field_without_its_parameter_is_a_bug_named_at_once() -> None:
    @dataclass(frozen=True)
    class Options:
        name: str
        tags: tuple[str, ...] = field(default_factory=tuple)

    with pytest.raises(TypeError, match=r"Options.tags is no parameter of the command"):
        build(Options, {"name": "x"})


def _functions(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def _parameters(function: ast.FunctionDef) -> int:
    args = function.args
    count = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs) + bool(args.vararg) + bool(args.kwarg)
    return count - (bool(args.args) and args.args[0].arg in ("self", "cls"))


def _is_command(function: ast.FunctionDef) -> bool:
    return any("click" in ast.unparse(d) or "gather" in ast.unparse(d) for d in function.decorator_list)


@pytest.mark.parametrize("module", sorted(CLI_DIR.glob("*.py")), ids=lambda p: p.name)
def test_cli_modules_are_thin(module: Path) -> None:
    source = module.read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_LINES, f"{module.name}: {source.count(chr(10))} lines"
    for function in _functions(ast.parse(source)):
        assert _parameters(function) <= MAX_PARAMETERS, f"{module.name}:{function.lineno} {function.name}"
        if _is_command(function):
            assert function.args.kwarg is None and function.args.vararg is None, f"{function.name} takes **/*"
