"""Attention layers: MultiheadAttention."""
from __future__ import annotations

from ... import numpy as fnp
from .. import init
from .._functional.attention import multi_head_attention_forward
from ..module import Module
from ._common import empty_parameter
from .linear import Linear


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear (PyTorch's name for MultiheadAttention's ``out_proj``)."""


class MultiheadAttention(Module):
    """Multi-head attention, with PyTorch's parameters, masks and layouts.

    ``attn_output = out_proj(concat_h softmax(Q_h K_h^T / sqrt(d) + mask) V_h)``
    with ``Q = query @ W_q^T + b_q`` etc.

    Args:
      embed_dim: E, the query's (and output's) feature size.
      num_heads: H; E must be divisible by it (head size E // H).
      dropout: dropout on the attention weights in training mode.
      bias: learn ``in_proj_bias`` and ``out_proj.bias``.
      add_bias_kv: learn ``bias_k``/``bias_v`` ``(1, 1, E)`` appended to the
        key and value sequences.
      add_zero_attn: append a zero key and value.
      kdim, vdim: feature sizes of key and value (default E).  When either
        differs from E the input projection is three weights
        ``q_proj_weight (E, E)``, ``k_proj_weight (E, kdim)``,
        ``v_proj_weight (E, vdim)`` instead of ``in_proj_weight (3E, E)``.
      batch_first: inputs and output are ``(N, L, E)`` instead of ``(L, N, E)``.

    Initialisation as PyTorch: xavier_uniform_ on the projection weights,
    zero ``in_proj_bias`` and ``out_proj.bias``, xavier_normal_ on
    ``bias_k``/``bias_v``; ``out_proj.weight`` as a Linear.

    Example:
        >>> import funcgrad as torch
        >>> mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        >>> x = torch.randn(3, 5, 8)
        >>> out, w = mha(x, x, x)
        >>> out.shape, w.shape
        (torch.Size([3, 5, 8]), torch.Size([3, 5, 5]))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible "
                             f"by num_heads ({num_heads})")
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = empty_parameter((embed_dim, embed_dim), dtype)
            self.k_proj_weight = empty_parameter((embed_dim, self.kdim), dtype)
            self.v_proj_weight = empty_parameter((embed_dim, self.vdim), dtype)
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = empty_parameter((3 * embed_dim, embed_dim), dtype)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = empty_parameter((3 * embed_dim,), dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        dtype=dtype)
        if add_bias_kv:
            self.bias_k = empty_parameter((1, 1, embed_dim), dtype)
            self.bias_v = empty_parameter((1, 1, embed_dim), dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()
        if device is not None:
            self.to(device)

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """Attend from ``query`` to ``key``/``value``.

        Args:
          query: ``(L, N, E)`` (``(N, L, E)`` with batch_first) or ``(L, E)``.
          key: ``(S, N, kdim)`` / ``(N, S, kdim)`` / ``(S, kdim)``.
          value: ``(S, N, vdim)`` / ``(N, S, vdim)`` / ``(S, vdim)``.
          key_padding_mask: ``(N, S)`` / ``(S,)``; True (or a float -inf)
            marks keys to ignore.
          need_weights: also return the attention weights.
          attn_mask: ``(L, S)`` or ``(N * num_heads, L, S)``; True (or a
            float -inf) where attention is not allowed; float masks are added.
          average_attn_weights: average the returned weights over heads.
          is_causal: a hint that ``attn_mask`` is the causal mask (which must
            be given, as in PyTorch).

        Returns:
          ``(attn_output, attn_weights)``: the output like ``query`` (with E
          features); weights ``(N, L, S)`` (``(N, H, L, S)`` unaveraged;
          without N when unbatched), or None when ``need_weights=False``.
        """
        batched = query.ndim == 3
        if self.batch_first and batched:
            # Transpose once per distinct tensor: self-attention stays recognisable.
            if key is value:
                if query is key:
                    query = key = value = fnp.swapaxes(query, 0, 1)
                else:
                    query, key = fnp.swapaxes(query, 0, 1), fnp.swapaxes(key, 0, 1)
                    value = key
            else:
                query, key, value = (fnp.swapaxes(x, 0, 1) for x in (query, key, value))
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        if self.batch_first and batched:
            out = fnp.swapaxes(out, 0, 1)
        return out, weights

    def extra_repr(self):
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.kdim != self.embed_dim or self.vdim != self.embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            s += ", batch_first=True"
        return s


__all__ = ["MultiheadAttention"]
