"""The browser pages (``workfuse.ui``) and the HTTP API (``workfuse.api``) do not import
each other: what both need (page paths, the session cookie's name) lives in
``workfuse.web_paths``. Only the app's entry module, ``workfuse.workfuse``, joins them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import workfuse

PACKAGE = Path(workfuse.__file__).parent


def _imports(source: str, *, package: str) -> set[str]:
    """Every module ``source`` imports, at any depth of its code; relative imports are
    resolved against ``package`` (the package the module is in), and
    ``from a import b`` counts as both ``a`` and ``a.b``."""
    parts = package.split(".")
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _imports_into(layer: str, other: str) -> list[str]:
    """``module imports name`` for each import of ``workfuse.<other>`` by a module of
    ``workfuse.<layer>``."""
    found = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        package = module.removesuffix(".__init__").rpartition(".")[0]
        if path.name == "__init__.py":
            package = module.removesuffix(".__init__")
        found += [
            f"{module} imports {name}"
            for name in sorted(_imports(path.read_text(), package=package))
            if name == f"workfuse.{other}" or name.startswith(f"workfuse.{other}.")
        ]
    return found


@pytest.mark.parametrize(("layer", "other"), [("api", "ui"), ("ui", "api")])
def test_the_pages_and_the_api_do_not_import_each_other(layer: str, other: str) -> None:
    assert _imports_into(layer, other) == []


def test_imports_inside_functions_and_relative_imports_count() -> None:
    # Given: a module of workfuse.api.routes that imports late and relatively
    source = "def late():\n    from ...ui import routes\n    from .. import deps\n    import x.y\n"

    # When
    found = _imports(source, package="workfuse.api.routes")

    # Then
    assert {"workfuse.ui.routes", "workfuse.api.deps", "x.y"} <= found
