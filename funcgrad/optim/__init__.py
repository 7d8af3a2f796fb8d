"""funcgrad.optim (being written)."""
