"""Route paths of every page, in one place."""

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
    return f"{EXECUTIONS}/{execution_id}"
