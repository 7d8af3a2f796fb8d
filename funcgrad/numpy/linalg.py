"""funcgrad.numpy.linalg (being written)."""
