"""Fixtures of the editor's unit tests: every node type the registry has, and the sample
type an operator would add (``tests/support/sample_node.py``)."""

from __future__ import annotations

import pytest

from workfuse.nodes.base import NodeSpec
from workfuse.nodes.registry import REGISTRY

SAMPLE_TYPE = "sign_text"  #: the type ``tests/support/sample_node.py`` registers
#: The types the generic tests run for: the registry's, then the sample one.
NODE_TYPES = list(dict.fromkeys([*REGISTRY.types(), SAMPLE_TYPE]))


@pytest.fixture(params=NODE_TYPES)
def node_spec(request: pytest.FixtureRequest) -> NodeSpec:
    """Each node type in turn (the sample type registered for the test)."""
    if request.param == SAMPLE_TYPE and SAMPLE_TYPE not in REGISTRY:
        spec: NodeSpec = request.getfixturevalue("sample_node")
        return spec
    return REGISTRY.get(request.param)
