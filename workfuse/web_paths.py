"""The page paths and the session cookie's name, shared by the pages and the API.

The browser pages (:mod:`workfuse.ui`) register and link these paths; the API
(:mod:`workfuse.api`) redirects to them after a sign-in form post and reads the cookie
it set. Both import this module, and neither imports the other.
"""

SESSION_COOKIE = "workfuse_session"  #: HttpOnly; holds the token of a signed-in session

WORKFLOWS = "/"
WORKFLOW = "/workflows/[workflow_id]"
SIGN_IN = "/sign-in"
SIGN_UP = "/sign-up"
EXECUTIONS = "/executions"
EXECUTION = "/executions/[execution_id]"
CREDENTIALS = "/credentials"
SETTINGS = "/settings"


def workflow(workflow_id: str) -> str:
    """The editor of one workflow."""
    return f"/workflows/{workflow_id}"


def execution(execution_id: str) -> str:
    """The page of one execution."""
    return f"{EXECUTIONS}/{execution_id}"
