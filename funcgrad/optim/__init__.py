"""``funcgrad.optim``: PyTorch's optimizers, as thin shells over pure update functions.

Stateful front (PyTorch's API)::

    opt = funcgrad.optim.Adam(model.parameters(), lr=1e-3)
    opt.zero_grad(); loss.backward(); opt.step()

Functional front (pytrees of arrays; see :mod:`funcgrad.optim.functional`)::

    opt = funcgrad.optim.functional.adam(lr=1e-3)
    state = opt.init(params)
    params, state = opt.step(params, grads, state)

Both run the same per-parameter math, so they agree bit for bit.
"""
from . import functional, lr_scheduler  # noqa: F401
from .adadelta import Adadelta  # noqa: F401
from .adagrad import Adagrad  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .optimizer import Optimizer, required  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .sgd import SGD  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "functional",
           "lr_scheduler"]
