"""Use cases shared by the UI and the HTTP API. Every call takes the acting user."""
