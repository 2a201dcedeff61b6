"""The page paths under the name ``workfuse.ui.editor`` still imports them by.

They are defined in :mod:`workfuse.web_paths`, which the API shares; import them from
there. This module goes once the editor does so.
"""

from workfuse.web_paths import (
    CREDENTIALS,
    EXECUTION,
    EXECUTIONS,
    SETTINGS,
    SIGN_IN,
    SIGN_UP,
    WORKFLOW,
    WORKFLOWS,
    execution,
    workflow,
)

__all__ = [
    "CREDENTIALS",
    "EXECUTION",
    "EXECUTIONS",
    "SETTINGS",
    "SIGN_IN",
    "SIGN_UP",
    "WORKFLOW",
    "WORKFLOWS",
    "execution",
    "workflow",
]
