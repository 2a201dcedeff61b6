"""The browser UI: Reflex states, pages and components."""
