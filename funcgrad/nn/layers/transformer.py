"""Transformer layers: encoder/decoder layers and stacks, and ``nn.Transformer``.

The same modules, parameter names (``layers.0.self_attn.in_proj_weight``...),
defaults and masks as PyTorch's, built from MultiheadAttention, Linear,
Dropout and LayerNorm.  PyTorch's fused fast paths (nested tensors in eval
mode) are not reproduced: every call takes the path PyTorch takes in training.
"""
from __future__ import annotations

import copy

import numpy as np

from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm


def _activation(activation):
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"activation should be 'relu', 'gelu' or a callable, got "
                        f"{type(activation).__name__}")
    return activation


def _get_clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """The causal float mask ``(sz, sz)``: 0 on and below the diagonal, -inf above."""
    dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
    mask = np.triu(np.full((sz, sz), -np.inf, dtype=dt), k=1)
    out = Tensor(mask)
    if device is not None:
        out = out.to(device)
    return out


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual and a LayerNorm.

    ``norm_first=False`` (post-norm, the default)::

        x = norm1(x + dropout1(self_attn(x)))
        x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))

    ``norm_first=True`` (pre-norm) applies each norm to the block's input.

    Args:
      d_model: feature size; nhead: attention heads.
      dim_feedforward: hidden size of the feed-forward block.
      dropout: dropout probability (attention weights and the three Dropouts).
      activation: ``"relu"``, ``"gelu"`` or a callable (a Module is
        registered as a submodule, as in PyTorch).
      layer_norm_eps, batch_first, norm_first, bias: as PyTorch.

    Example:
        >>> import funcgrad as torch
        >>> layer = torch.nn.TransformerEncoderLayer(d_model=16, nhead=4, batch_first=True)
        >>> layer(torch.randn(2, 7, 16)).shape
        torch.Size([2, 7, 16])
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        if device is not None:
            self.to(device)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """``src``: ``(S, N, E)`` (``(N, S, E)`` with batch_first) or ``(S, E)``.

        ``src_mask`` ``(S, S)`` / ``(N * nhead, S, S)`` and
        ``src_key_padding_mask`` ``(N, S)``: True (or -inf) where attention
        is not allowed.  ``is_causal`` is a hint that ``src_mask`` is causal.
        """
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Self-attention, attention over ``memory``, then a feed-forward block.

    Each block has a residual connection and a LayerNorm (after it by
    default, before it with ``norm_first=True``).  Arguments as
    :class:`TransformerEncoderLayer`.

    Example:
        >>> import funcgrad as torch
        >>> layer = torch.nn.TransformerDecoderLayer(d_model=16, nhead=4)
        >>> layer(torch.randn(5, 2, 16), torch.randn(7, 2, 16)).shape
        torch.Size([5, 2, 16])
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, bias=bias, dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, bias=bias,
                                                 dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)
        if device is not None:
            self.to(device)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """``tgt`` ``(T, N, E)``, ``memory`` ``(S, N, E)`` (batch first: ``(N, T, E)``...).

        Masks as :meth:`TransformerEncoderLayer.forward`: ``tgt_mask``
        ``(T, T)``, ``memory_mask`` ``(T, S)``, key padding masks ``(N, T)`` /
        ``(N, S)``.
        """
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                              tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask,
                                               memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """PyTorch's rule: an explicit hint wins; else compare ``mask`` with the causal mask."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None:
        return False
    from .._functional._util import concrete_or_none
    vals = concrete_or_none(mask)
    sz = size if size is not None else mask.shape[-2]
    if vals is None or vals.shape != (sz, sz):
        return False
    causal = np.triu(np.full((sz, sz), -np.inf), k=1)
    if vals.dtype == np.bool_:
        return bool(np.array_equal(vals, np.isinf(causal)))
    return bool(np.array_equal(vals, causal))


def _seq_len(src, batch_first):
    if src.ndim == 2:
        return src.shape[0]
    return src.shape[1 if batch_first else 0]


class TransformerEncoder(Module):
    """A stack of ``num_layers`` deep copies of ``encoder_layer`` (then ``norm``).

    The copies start with the same weights, as in PyTorch; their parameters
    are named ``layers.0.self_attn.in_proj_weight`` and so on.

    Example:
        >>> import funcgrad as torch
        >>> layer = torch.nn.TransformerEncoderLayer(d_model=16, nhead=4)
        >>> enc = torch.nn.TransformerEncoder(layer, num_layers=2)
        >>> enc(torch.randn(7, 2, 16)).shape
        torch.Size([7, 2, 16])
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """Run the layers in turn; masks as :meth:`TransformerEncoderLayer.forward`."""
        first = self.layers[0] if len(self.layers) else None
        batch_first = first.self_attn.batch_first if first is not None else False
        is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, batch_first))
        out = src
        for mod in self.layers:
            out = mod(out, src_mask=mask, is_causal=is_causal,
                      src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            out = self.norm(out)
        return out


class TransformerDecoder(Module):
    """A stack of ``num_layers`` deep copies of ``decoder_layer`` (then ``norm``).

    Example:
        >>> import funcgrad as torch
        >>> layer = torch.nn.TransformerDecoderLayer(d_model=16, nhead=4)
        >>> dec = torch.nn.TransformerDecoder(layer, num_layers=2)
        >>> dec(torch.randn(5, 2, 16), torch.randn(7, 2, 16)).shape
        torch.Size([5, 2, 16])
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """Run the layers in turn; masks as :meth:`TransformerDecoderLayer.forward`."""
        first = self.layers[0] if len(self.layers) else None
        batch_first = first.self_attn.batch_first if first is not None else False
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal,
                                               _seq_len(tgt, batch_first))
        out = tgt
        for mod in self.layers:
            out = mod(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            out = self.norm(out)
        return out


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need", as PyTorch's.

    ``Transformer(d_model=512, nhead=8, num_encoder_layers=6,
    num_decoder_layers=6, dim_feedforward=2048, dropout=0.1, ...)``; each
    stack ends with a LayerNorm, and every parameter with more than one dim
    is re-initialised with xavier_uniform_.

    Example:
        >>> import funcgrad as torch
        >>> model = torch.nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1,
        ...                              num_decoder_layers=1, dim_feedforward=32)
        >>> src, tgt = torch.randn(7, 2, 16), torch.randn(5, 2, 16)
        >>> mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
        >>> model(src, tgt, tgt_mask=mask).shape
        torch.Size([5, 2, 16])
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation=F.relu, custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        # Shared by the default encoder and decoder layers and their final LayerNorms.
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                      batch_first, norm_first, bias)
        norm_kwargs = dict(eps=layer_norm_eps, bias=bias, dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(*layer_args, dtype=dtype)
            norm = LayerNorm(d_model, **norm_kwargs)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(*layer_args, dtype=dtype)
            norm = LayerNorm(d_model, **norm_kwargs)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first
        if device is not None:
            self.to(device)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """Encode ``src`` ``(S, N, E)``, decode ``tgt`` ``(T, N, E)`` against it.

        Returns ``(T, N, E)`` (``(N, T, E)`` with batch_first).

        Raises:
          RuntimeError: different batch sizes, or a feature size other than
            d_model (PyTorch's messages).
        """
        batched = src.ndim == 3
        b = 0 if self.batch_first else 1
        if batched and src.shape[b] != tgt.shape[b]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The causal float mask ``(sz, sz)``: 0 on and below the diagonal, -inf above.

        Example:
            >>> import funcgrad as torch
            >>> torch.nn.Transformer.generate_square_subsequent_mask(3)
            tensor([[  0., -inf, -inf],
                    [  0.,   0., -inf],
                    [  0.,   0.,   0.]])
        """
        return generate_square_subsequent_mask(sz, device, dtype)

    def _reset_parameters(self):
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)


__all__ = ["TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerDecoder", "Transformer"]
