"""products primitives (being written)."""
