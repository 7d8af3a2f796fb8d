"""The layer families of ``funcgrad.nn`` (one module per family)."""
from .activation import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403
from . import (activation as _a, container as _c, conv as _cv, dropout as _d,  # noqa: E402
               flatten as _f, linear as _li, loss as _lo, normalization as _n, pooling as _p,
               sparse as _s, vision as _v)

__all__ = [n for m in (_a, _c, _cv, _d, _f, _li, _lo, _n, _p, _s, _v) for n in m.__all__]
