"""Route paths of every page, in one place."""

WORKFLOWS = "/"
SIGN_IN = "/sign-in"
SIGN_UP = "/sign-up"
EXECUTIONS = "/executions"
EXECUTION = "/executions/[execution_id]"


def execution(execution_id: str) -> str:
    return f"{EXECUTIONS}/{execution_id}"
