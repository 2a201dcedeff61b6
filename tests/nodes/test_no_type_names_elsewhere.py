"""Outside ``workfuse/nodes/`` no module names a node type: everything per type is
derived from the registry.

A string constant equal to a built-in type's name is allowed only where it means
something else (an ASGI scope type, a URL scheme, the template context's ``trigger``,
a node id, an OpenAPI tag), listed below with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

from workfuse.nodes.registry import BUILT_IN

PACKAGE = Path(__file__).resolve().parents[2] / "workfuse"

#: (module path under workfuse/, constant) -> why it is not a node type there.
NOT_A_NODE_TYPE = {
    ("api/browser_origins.py", "http"): "ASGI scope type",
    ("api/middleware.py", "http"): "ASGI scope type",
    ("api/unmatched.py", "http"): "ASGI scope type",
    ("api/origins.py", "http"): "URL scheme",
    ("net/policy.py", "http"): "URL scheme",
    ("api/routes/ai.py", "ai"): "OpenAPI tag of the /api/ai routes",
    ("templating/environment.py", "trigger"): "the template context's `trigger`",
    ("sandbox/__init__.py", "trigger"): "the template context's `trigger`",
    ("services/workflows.py", "trigger"): "the id of a new workflow's first node",
}


def named_types() -> dict[tuple[str, str], int]:
    """(module, type name) -> how many string constants equal that name there."""
    names = {spec.type for spec in BUILT_IN}
    found: dict[tuple[str, str], int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("nodes/"):
            continue
        for item in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(item, ast.Constant) and item.value in names:
                key = (relative, str(item.value))
                found[key] = found.get(key, 0) + 1
    return found


def test_no_module_outside_the_nodes_package_names_a_node_type() -> None:
    # Given every string constant outside workfuse/nodes/ equal to a type name
    found = named_types()

    # Then each one is a known use that is not a node type
    unexpected = sorted(key for key in found if key not in NOT_A_NODE_TYPE)
    assert unexpected == [], (
        "these modules name node types; derive what they need from the registry "
        f"(NodeSpec) instead: {unexpected}"
    )
