"""Route paths of every page, in one place."""

WORKFLOWS = "/"
