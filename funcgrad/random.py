"""funcgrad.random: explicit keys (being written)."""
