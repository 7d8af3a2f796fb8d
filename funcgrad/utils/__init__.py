"""funcgrad.utils: ``data`` (datasets and loaders) and ``checkpoint``."""
from . import checkpoint, data  # noqa: F401
