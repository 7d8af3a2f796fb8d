"""linalg primitives (being written)."""
