"""The families behind ``funcgrad.nn.functional`` (one module per family)."""
