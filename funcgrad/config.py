"""Global switches: ``funcgrad.config.update("debug_nans", True)``.

Switches are read on hot paths as plain attributes, so reading one costs a
single attribute lookup.  Use :meth:`Config.override` for a scoped change.
"""
from __future__ import annotations

import contextlib
import os


class Config:
    """The library's switches.

    debug_nans: raise at the first primitive whose output holds a NaN or an
        Inf, in the forward or the backward pass (slow: checks every output).
    vmap_fallback: what ``vmap`` does with a primitive that has no batching
        rule: ``"error"`` (default) or ``"loop"`` (run it once per example and
        stack, warning once per primitive).
    log_retraces: ``jit`` logs why it traced a function again.
    optimizer_compile_after: the stateful optimizers (``funcgrad.optim``)
        compile a parameter group's update -- one in-place replay instead of
        one array per operation -- once they have stepped it this many times
        with the same shapes and hyperparameters (``lr`` may change); ``None``
        keeps every step eager.  Results are bit-identical either way.
    """

    _defaults = {
        "debug_nans": False,
        "vmap_fallback": os.environ.get("FUNCGRAD_VMAP_FALLBACK", "error"),
        "log_retraces": False,
        "optimizer_compile_after": 2,
    }

    def __init__(self):
        for k, v in self._defaults.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, name, value):
        self.update(name, value)

    def update(self, name, value):
        """Set switch ``name`` to ``value``.

        Raises:
          AttributeError: ``name`` is not a switch (the message lists them).
        """
        if name not in self._defaults:
            raise AttributeError(
                f"funcgrad.config has no switch {name!r}; switches: "
                f"{sorted(self._defaults)}")
        if name == "vmap_fallback" and value not in ("error", "loop"):
            raise ValueError(f"vmap_fallback must be 'error' or 'loop', got {value!r}")
        if name == "optimizer_compile_after" and value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"optimizer_compile_after must be a non-negative int or None, "
                             f"got {value!r}")
        object.__setattr__(self, name, value)

    @contextlib.contextmanager
    def override(self, **switches):
        """Set switches for the duration of a ``with`` block."""
        old = {k: getattr(self, k) for k in switches}
        try:
            for k, v in switches.items():
                self.update(k, v)
            yield self
        finally:
            for k, v in old.items():
                object.__setattr__(self, k, v)

    def __repr__(self):
        items = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._defaults)
        return f"Config({items})"


config = Config()


def debug_nans(enabled=True):
    """Context manager: ``with funcgrad.debug_nans(): ...`` raises at the first NaN/Inf."""
    return config.override(debug_nans=enabled)
