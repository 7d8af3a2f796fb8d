"""conv primitives (being written)."""
