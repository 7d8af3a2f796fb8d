"""Sorting and searching in funcgrad.numpy (being written)."""
