"""funcgrad.utils.data (being written)."""
