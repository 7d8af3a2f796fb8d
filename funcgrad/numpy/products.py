"""Products of funcgrad.numpy: dot, matmul, einsum, tensordot, ... (being written)."""
