"""`pip install nacrith` needs no compiler: llama-cpp-python (a C++ build) is an optional extra."""

from __future__ import annotations

import re

import pytest

from tests.paths import REPO

tomllib = pytest.importorskip("tomllib")

#: base dependencies known to install from wheels alone (pure Python, or binary wheels on PyPI for
#: the supported platforms); a new one belongs here only once that is checked
WHEEL_ONLY = {
    "numpy",
    "constriction",
    "zstandard",
    "click",
    "tqdm",
    "pyppmd",
    "filelock",
    "gguf",
    "numba",  # only where its marker allows: the platforms numba and llvmlite publish wheels for
}
LLAMA = "llama-cpp-python"


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_base_dependencies_need_no_compiler() -> None:
    names = {_name(r) for r in _project()["dependencies"]}
    assert LLAMA not in names
    assert names <= WHEEL_ONLY, f"check that these install without a compiler: {names - WHEEL_ONLY}"


def test_llama_cpp_is_the_llama_extra_and_in_the_test_extra() -> None:
    extras = _project()["optional-dependencies"]
    pins = {r for r in extras["llama"] if _name(r) == LLAMA}
    assert len(pins) == 1 and next(iter(pins)).startswith(f"{LLAMA}==")
    assert pins <= set(extras["test"])  # the suite tests the llama engine, at the same pin


@pytest.mark.parametrize(
    ("system", "machine", "implementation", "wanted"),
    [
        ("linux", "x86_64", "CPython", True),
        ("linux", "aarch64", "CPython", True),
        ("win32", "AMD64", "CPython", True),
        ("darwin", "arm64", "CPython", True),
        ("darwin", "x86_64", "CPython", False),  # no macOS x86_64 wheels
        ("linux", "s390x", "CPython", False),
        ("linux", "x86_64", "PyPy", False),
    ],
)
def test_numba_is_asked_for_only_where_it_has_wheels(system, machine, implementation, wanted):
    requirement = pytest.importorskip("packaging.requirements").Requirement
    (numba,) = [r for r in _project()["dependencies"] if _name(r) == "numba"]
    env = {
        "sys_platform": system,
        "platform_machine": machine,
        "platform_python_implementation": implementation,
    }
    assert requirement(numba).marker.evaluate(env) is wanted
