"""The house check: no import circles among bot's modules, TYPE_CHECKING imports included."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script() -> Any:
    path = ROOT / "scripts" / "import_cycles.py"
    module_spec = importlib.util.spec_from_file_location("import_cycles", path)
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["import_cycles"] = module
    module_spec.loader.exec_module(module)
    return module


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"__init__.py": "", **files}.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_bot_has_no_import_circle() -> None:
    assert _script().find_cycles(ROOT / "bot") == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"a.py": "import pkg.b\n", "b.py": "from pkg import a\n"},
            [["pkg.a", "pkg.b"]],
            id="plain",
        ),
        pytest.param(
            {
                "a.py": "from pkg.b import thing\n",
                "b.py": (
                    "from typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n    from pkg.c import Other\nthing = 1\n"
                ),
                "c.py": "def f():\n    from . import a\n",
            },
            [["pkg.a", "pkg.b", "pkg.c"]],
            id="hidden under TYPE_CHECKING and inside a function",
        ),
        pytest.param(
            {
                "sub/__init__.py": "",
                "sub/x.py": "from ..y import z\n",
                "y.py": "from .sub import x\n",
            },
            [["pkg.sub.x", "pkg.y"]],
            id="relative",
        ),
        pytest.param(
            {"a.py": "import os\nimport pkg.b\n", "b.py": "from pkg.c import d\n", "c.py": ""},
            [],
            id="a chain is no circle",
        ),
    ],
)
def test_circles_are_found(
    tmp_path: Path, files: dict[str, str], expected: list[list[str]]
) -> None:
    assert _script().find_cycles(_package(tmp_path, files)) == expected


def test_the_script_fails_on_a_circle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = _package(tmp_path, {"a.py": "import pkg.b\n", "b.py": "import pkg.a\n"})
    assert _script().main(["import_cycles.py", str(package)]) == 1
    assert "import circle: pkg.a ↔ pkg.b" in capsys.readouterr().out
