"""``funcgrad.nn``: PyTorch's neural-network API on funcgrad's one autodiff engine.

Modules (``Linear``, ``Conv2d``, ``BatchNorm2d``, ``Sequential``, losses...),
``Parameter``, ``functional`` (as ``F``), ``init`` and ``utils``.  A Module
is a pytree, so the functional transforms take models directly, and
:func:`functional_call` runs one with other parameters.

Example:
    >>> import funcgrad as torch
    >>> import funcgrad.nn as nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> loss = nn.CrossEntropyLoss()(model(torch.ones(2, 4)), torch.tensor([0, 2]))
    >>> loss.backward()
"""
from __future__ import annotations

from . import functional, init, utils  # noqa: F401
from .layers import *  # noqa: F401,F403
from .layers import __all__ as _layers_all  # noqa: F401
from .module import Module, RemovableHandle, functional_call  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .layers.attention import MultiheadAttention  # noqa: F401
from .layers.transformer import (Transformer, TransformerDecoder,  # noqa: F401
                                 TransformerDecoderLayer, TransformerEncoder,
                                 TransformerEncoderLayer)
from .layers.embedding_bag import EmbeddingBag  # noqa: F401
from .layers.ctc import CTCLoss  # noqa: F401
from ._stateful import stateful_call  # noqa: F401
from .layers.recurrent import RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, RNNBase  # noqa: F401
