"""``funcgrad.nn.functional``: PyTorch's functional API on funcgrad.numpy.

Every function takes Tensors (and returns Tensors, recorded for
``backward()``) or plain arrays / traced values (inside ``funcgrad.grad``,
``vmap``, ``jit``), with PyTorch's names, signatures, defaults and
reductions.  They are composites of funcgrad.numpy operations: their
derivatives come from the primitives' rules, in both fronts.

Example:
    >>> import funcgrad as torch
    >>> import funcgrad.nn.functional as F
    >>> logits = torch.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
    >>> loss = F.cross_entropy(logits, torch.tensor([0]))
    >>> loss.backward()
"""
from __future__ import annotations

from ._functional.activation import *  # noqa: F401,F403
from ._functional.basic import *  # noqa: F401,F403
from ._functional.conv import *  # noqa: F401,F403
from ._functional.loss import *  # noqa: F401,F403
from ._functional.normalization import *  # noqa: F401,F403
from ._functional.vision import *  # noqa: F401,F403
from ._functional import activation as _a, basic as _b, conv as _c, loss as _l
from ._functional import normalization as _n, vision as _v

from ._functional.attention import *  # noqa: F401,F403
from ._functional.ctc import *  # noqa: F401,F403
from ._functional.embedding_bag import *  # noqa: F401,F403
from ._functional import attention as _att, ctc as _ctc, embedding_bag as _eb

__all__ = _a.__all__ + _b.__all__ + _c.__all__ + _l.__all__ + _n.__all__ + _v.__all__
__all__ += _att.__all__ + _ctc.__all__ + _eb.__all__
del _a, _b, _c, _l, _n, _v, _att, _ctc, _eb
