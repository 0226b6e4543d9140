"""docs/architecture.md names every import from one audit folder into another; these tests read every
module's imports with `ast` (the parser Python itself uses, wherever the import sits: top level, inside a
function, under TYPE_CHECKING) and fail on any import the page does not name.

The page also says the decisions-disclosure cycle is never met at import time: disclosure's imports of
`misflag.decisions` sit inside functions or under TYPE_CHECKING, never at a module's top level.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import misflag

PACKAGE = Path(misflag.__file__).parent
AUDIT_FOLDERS = ("decisions", "linkage", "biometrics", "monitor", "ledger", "inventory", "disclosure")

#: folder -> the modules of other audit folders it may import, as docs/architecture.md lists them
NAMED: dict[str, set[str]] = {
    "inventory": {"misflag.linkage"},
    "monitor": {"misflag.ledger", "misflag.disclosure._register"},
    "decisions": {
        "misflag.disclosure",
        *(
            f"misflag.disclosure.{name}"
            for name in (
                "_figures",
                "_goal",
                "_kept",
                "_load",
                "_model",
                "_optimal",
                "_register",
                "_weights",
                "_where_cells",
            )
        ),
    },
    "disclosure": {"misflag.decisions", "misflag.ledger", "misflag.ledger._releases"},
    "biometrics": {
        "misflag.disclosure._audit",
        "misflag.disclosure._goal",
        "misflag.disclosure._register",
        "misflag.disclosure._ledger_register",
    },
    "linkage": {"misflag.disclosure._audit", "misflag.disclosure._goal", "misflag.disclosure._register"},
    "ledger": set(),
}


def imported(tree: ast.AST) -> set[str]:
    """Every module an `import` or `from ... import` of the tree names (absolute imports; misflag has no
    relative ones, and one found fails the test rather than hiding an import)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import of {node.module}"
            found.add(str(node.module))
    return found


def audit_folder_of(module: str) -> str | None:
    """The audit folder a `misflag....` module name lies in (None for the shared core and helpers)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "misflag" and parts[1] in AUDIT_FOLDERS else None


def cross_folder_imports(folder: str, tree_of: dict[Path, ast.AST]) -> set[str]:
    """The modules of other audit folders the folder's files import."""
    return {
        module
        for path, tree in tree_of.items()
        for module in imported(tree)
        if audit_folder_of(module) not in (None, folder)
    }


def parsed(folder: str) -> dict[Path, ast.AST]:
    return {path: ast.parse(path.read_text(encoding="utf-8")) for path in (PACKAGE / folder).rglob("*.py")}


@pytest.mark.parametrize("folder", AUDIT_FOLDERS)
def test_a_folder_imports_only_what_the_architecture_page_names(folder: str) -> None:
    assert cross_folder_imports(folder, parsed(folder)) <= NAMED[folder]


def test_every_named_import_is_still_made() -> None:
    """The page names nothing that is gone (else it would list a dependency the code dropped)."""
    for folder, named in NAMED.items():
        assert cross_folder_imports(folder, parsed(folder)) == named, folder


def run_at_import(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a body that run when the module is imported: not function bodies, not a
    TYPE_CHECKING block; every other block (if, try, with, a class body) is entered."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            out.extend(run_at_import(node.orelse))
            continue
        out.append(node)
        for field in ("body", "orelse", "finalbody", "handlers"):
            for child in getattr(node, field, []):
                inner = child.body if isinstance(child, ast.ExceptHandler) else [child]
                out.extend(run_at_import(inner))
    return out


def at_import(tree: ast.Module) -> set[str]:
    """The modules a file imports when it is itself imported."""
    return {
        module
        for node in run_at_import(tree.body)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for module in imported(node)
    }


def test_disclosure_reaches_decisions_only_inside_functions() -> None:
    for path, tree in parsed("disclosure").items():
        assert isinstance(tree, ast.Module)
        assert not any(audit_folder_of(m) == "decisions" for m in at_import(tree)), path


def test_the_checks_see_an_import_inside_a_function_and_under_type_checking() -> None:
    """The reader itself, on code written for it: imports anywhere in a file count."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from misflag.ledger._seal import Tip\n"
        "def f():\n    import misflag.decisions._protect\n    from misflag.result import JOIN\n"
    )
    tree = ast.parse(source)
    assert cross_folder_imports("monitor", {Path("x.py"): tree}) == {
        "misflag.ledger._seal",
        "misflag.decisions._protect",
    }
    assert at_import(tree) == {"typing"}  # neither import runs when the module is imported
    assert at_import(ast.parse("try:\n    import misflag.decisions\nexcept ImportError:\n    pass\n")) == {
        "misflag.decisions"
    }
