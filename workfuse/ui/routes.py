"""Route paths of every page, in one place."""

WORKFLOWS = "/"
SIGN_IN = "/sign-in"
SIGN_UP = "/sign-up"
