"""Node types: one module each, listed explicitly in :mod:`workfuse.nodes.registry`."""
