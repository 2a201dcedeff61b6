"""HTTP routes mounted on the Reflex backend."""
