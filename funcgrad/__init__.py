"""funcgrad: composable function transforms for NumPy code, and a PyTorch-style front.

Functional front::

    import funcgrad as fg, funcgrad.numpy as fnp
    fg.grad(lambda x: fnp.sum(fnp.tanh(x) ** 2))(fnp.ones(3))

See the README and docs/ for the PyTorch-style front (``funcgrad.Tensor``,
``funcgrad.nn``, ``funcgrad.optim``).
"""
from __future__ import annotations

from . import prims as _prims  # registers every primitive
from . import numpy  # noqa: F401  (funcgrad.numpy, imported as fnp by users)
from .numpy import _tracer_methods as _tm
from . import tree_util  # noqa: F401
from .api import (grad, hessian, jacfwd, jacrev, jvp, linearize, stop_gradient,  # noqa: F401
                  value_and_grad, vjp, vmap)
from .config import config, debug_nans  # noqa: F401
from .core import (ConcretizationError, FuncgradError, LeakedTracerError,  # noqa: F401
                   MissingRuleError, Primitive, primitives)
from .custom import checkpoint, custom_vjp  # noqa: F401
from .ir import make_ir  # noqa: F401
from .jit import jit  # noqa: F401
from .batching import BatchingError  # noqa: F401
from .tensor import (Tensor, enable_grad, inference_mode, is_grad_enabled,  # noqa: F401
                     no_grad, set_grad_enabled)
from .serialization import CheckpointError, load, save  # noqa: F401,E402
from .torch_api import *  # noqa: F401,F403  (factories, dtypes, top-level math: the torch names)
from . import autograd, nn, optim, random, utils  # noqa: F401,E402
from .compile import compile, compile_step  # noqa: F401,E402
from . import backends  # noqa: F401,E402
from .device import (DeviceError, DeviceMismatchError, DeviceUnavailableError,  # noqa: F401,E402
                     UnsupportedDtypeError, accelerator, cuda, cuda_device_count,
                     cuda_is_available,
                     default_device, device, device_of, device_put, device_scope,
                     get_default_device, gpu_status, set_default_device, synchronize,
                     to_device, to_numpy)

_tm.install()
del _tm, _prims

__version__ = "0.1.0"
