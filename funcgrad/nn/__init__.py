"""funcgrad.nn (being written)."""
