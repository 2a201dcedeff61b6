"""The engine sits below the services: no module of ``workfuse.engine`` imports
``workfuse.services``, directly, inside a function, or through what it imports."""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import workfuse.engine

ENGINE_DIR = Path(workfuse.engine.__file__).parent
FORBIDDEN = "workfuse.services"


def engine_modules() -> list[str]:
    return sorted(
        module.name
        for module in pkgutil.walk_packages([str(ENGINE_DIR)], prefix="workfuse.engine.")
    )


def test_no_engine_module_names_a_service() -> None:
    # Given: every import statement in the engine's source, at any depth
    named: dict[str, set[str]] = {}
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        for statement in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(statement, ast.Import):
                modules = {alias.name for alias in statement.names}
            elif isinstance(statement, ast.ImportFrom) and statement.module:
                modules = {statement.module}
            else:
                continue
            named.setdefault(str(path.relative_to(ENGINE_DIR)), set()).update(modules)

    # Then: none of them is a service (and the walk saw the engine's modules)
    offending = {
        path: sorted(module for module in modules if module.startswith(FORBIDDEN))
        for path, modules in named.items()
    }
    assert {path: modules for path, modules in offending.items() if modules} == {}
    assert {"runner.py", "reconciler.py", "transitions.py"} <= set(named)


def test_importing_the_whole_engine_loads_no_service() -> None:
    # Given: a fresh interpreter, with a broker URL so the worker module may be imported
    # (nothing connects to it at import)
    modules = engine_modules()
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(n for n in sys.modules if n.startswith({FORBIDDEN!r}))))\n"
    )
    environment = {**os.environ, "WORKFUSE_REDIS_URL": "redis://127.0.0.1:1/0"}

    # When: it imports every engine module
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )

    # Then: no service module came with them
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert "workfuse.engine.worker" in modules and "workfuse.engine.hooks.updates" in modules
