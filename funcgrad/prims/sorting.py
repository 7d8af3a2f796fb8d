"""sorting primitives (being written)."""
