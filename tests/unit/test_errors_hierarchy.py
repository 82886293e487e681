"""One error hierarchy: every exception class of dr_lib is defined in dr_lib.errors, none is a ValueError
or an AssertionError (an ``except ValueError`` for a parse error must never swallow one of ours)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import dr_lib
from dr_lib import errors


def product_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(dr_lib.__path__, "dr_lib.")]
    return [n for n in names if not n.endswith("__main__")]


def exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in product_modules():
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name:
                found[f"{name}.{attribute}"] = value
    return found


def test_every_exception_class_is_defined_in_dr_lib_errors() -> None:
    assert [name for name, cls in exception_classes().items() if cls.__module__ != "dr_lib.errors"] == []


@pytest.mark.parametrize("cls", [c for c in vars(errors).values()
                                 if inspect.isclass(c) and issubclass(c, BaseException)], ids=lambda c: c.__name__)
def test_no_error_of_ours_is_a_value_error_or_an_assertion(cls: type[BaseException]) -> None:
    assert not issubclass(cls, (ValueError, AssertionError))
    assert issubclass(cls, errors.DRError) or cls is errors.Unanswered  # the one internal signal (an OSError)


@pytest.mark.parametrize(("cls", "code"), [
    (errors.HookSpecError, errors.ExitCode.USAGE),  # a wrong declaration: the operator's input
    (errors.VolumeError, errors.ExitCode.FAILURE),
    (errors.ToolMissing, errors.ExitCode.ENVIRONMENT),
    (errors.CommandFailed, errors.ExitCode.ENVIRONMENT),
    (errors.StepFailed, errors.ExitCode.FAILURE),
])
def test_moved_and_new_errors_carry_their_exit_code(cls: type[errors.DRError], code: int) -> None:
    assert cls.exit_code == code

