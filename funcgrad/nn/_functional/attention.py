"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

Both are composites of funcgrad.numpy operations (matmul, a masked stable
softmax, reshapes), so their derivatives -- of every order, in both fronts,
under ``vmap`` -- come from the primitives' rules.

Masks follow PyTorch, whose two conventions differ:

* ``scaled_dot_product_attention``: a boolean ``attn_mask`` is True where a
  query *may* attend; a float mask is added to the scores.
* ``multi_head_attention_forward`` (``nn.MultiheadAttention``): a boolean
  ``attn_mask`` / ``key_padding_mask`` is True where attention is *not*
  allowed (padding); a float mask is added.

A query whose keys are all masked gets zero weights and a zero output (as
PyTorch's ``scaled_dot_product_attention``; PyTorch's ``need_weights=True``
path gives NaN there).
"""
from __future__ import annotations

import math

import numpy as np

from ... import numpy as fnp
from .basic import dropout as _dropout
from ._util import arr


# --------------------------------------------------------------------------- #
# The masked, stable softmax shared by both
# --------------------------------------------------------------------------- #
def _masked_softmax(scores, keep=None, bias=None):
    """Softmax over the last axis of ``scores + bias`` restricted to ``keep``.

    Rows with no admissible entry give zeros (no NaN, zero gradient).
    """
    if bias is not None:
        scores = scores + bias
    if keep is not None:
        scores = fnp.where(keep, scores, -np.inf)
    m = fnp.stop_gradient(fnp.max(scores, axis=-1, keepdims=True))
    masked = keep is not None or bias is not None
    if masked:
        # A fully masked row has max -inf: shift by 0 instead (exp(-inf) = 0 then).
        m = fnp.where(fnp.isfinite(m), m, 0.0)
    e = fnp.exp(scores - m)
    s = fnp.sum(e, axis=-1, keepdims=True)
    if masked:
        s = fnp.where(s == 0, 1.0, s)
    # One reciprocal per row and a product: cheaper than dividing every weight, and
    # so is the backward pass (no full-size divisions).
    return e * (1.0 / s)


def _float_mask(mask, dtype, name, op):
    """A float mask of ``dtype`` (bool masks: True -> -inf, PyTorch's MHA convention)."""
    if mask is None:
        return None
    m = arr(mask)
    if m.dtype == np.bool_:
        return fnp.where(m, np.asarray(-np.inf, dtype), np.asarray(0.0, dtype))
    if m.dtype.kind != "f":
        raise TypeError(f"{op}: only bool and floating types of {name} are supported, got "
                        f"dtype {m.dtype}")
    return m if m.dtype == dtype else fnp.astype(m, dtype)


# --------------------------------------------------------------------------- #
# scaled_dot_product_attention
# --------------------------------------------------------------------------- #
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """``softmax(query @ key^T * scale + mask) @ value``, as ``torch.nn.functional``'s.

    Args:
      query: ``(..., L, E)``.
      key: ``(..., S, E)``.
      value: ``(..., S, Ev)``.  Leading dims broadcast.
      attn_mask: broadcastable to ``(..., L, S)``; boolean (True: the query
        may attend to that key) or float (added to the scores).
      dropout_p: dropout probability on the attention weights (applied
        whenever > 0, as PyTorch's functional form; pass 0.0 in eval mode).
      is_causal: attend only to keys ``j <= i`` (the top-left aligned lower
        triangle); ``attn_mask`` must then be None.
      scale: the score scale, default ``1 / sqrt(E)``.
      enable_gqa: grouped-query attention: ``key``/``value`` have fewer heads
        (dim -3) than ``query``, each shared by ``Hq // Hkv`` query heads.

    Returns:
      ``(..., L, Ev)``.  A query whose keys are all masked gets zeros.

    Raises:
      ValueError: inputs of fewer than 2 dims, mismatched feature or
        sequence sizes, ``is_causal`` together with ``attn_mask``.
      TypeError: a mask that is neither boolean nor floating point.

    Example:
        >>> import numpy as np
        >>> q = k = v = np.ones((2, 3, 4))
        >>> scaled_dot_product_attention(q, k, v, is_causal=True).shape
        (2, 3, 4)
    """
    q, k, v = arr(query), arr(key), arr(value)
    op = "scaled_dot_product_attention"
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{op}: query, key and value need at least 2 dims (..., L, E); got "
                         f"shapes {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: expected query (..., L, E), key (..., S, E) and value "
                         f"(..., S, Ev); got shapes {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")
    if enable_gqa and q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        hq, hk = q.shape[-3], k.shape[-3]
        if hk == 0 or hq % hk or v.shape[-3] != hk:
            raise ValueError(f"{op}: with enable_gqa the query heads ({hq}) must be a "
                             f"multiple of the key/value heads ({hk}, {v.shape[-3]})")
        k = fnp.repeat(k, hq // hk, axis=-3)
        v = fnp.repeat(v, hq // hk, axis=-3)
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: explicit attn_mask should not be set when is_causal=True "
                         "(pass one or the other)")
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = fnp.matmul(q * scale, fnp.swapaxes(k, -1, -2))
    keep = bias = None
    if is_causal:
        keep = np.tril(np.ones((L, S), dtype=bool))
    elif attn_mask is not None:
        m = arr(attn_mask)
        if m.dtype == np.bool_:
            keep = m
        else:
            bias = _float_mask(m, scores.dtype, "attn_mask", op)
    weights = _masked_softmax(scores, keep, bias)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, True)
    return fnp.matmul(weights, v)


# --------------------------------------------------------------------------- #
# multi_head_attention_forward
# --------------------------------------------------------------------------- #
def _lin(x, w, b):
    """``x @ w.T + b`` over the last axis, as one 2-D product (BLAS-friendly)."""
    lead = tuple(x.shape[:-1])
    out = fnp.matmul(fnp.reshape(x, (-1, x.shape[-1])), fnp.swapaxes(w, 0, 1))
    if b is not None:
        out = out + b
    return fnp.reshape(out, lead + (w.shape[0],))


def _check_mha_shapes(q, k, v, key_padding_mask, attn_mask, num_heads, op):
    if q.ndim == 3:
        if k.ndim != 3 or v.ndim != 3:
            raise ValueError(f"{op}: for batched (3-D) query, expected key and value to be "
                             f"3-D but found {k.ndim}-D and {v.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise ValueError(f"{op}: for batched (3-D) query, expected key_padding_mask to be "
                             f"None or 2-D but found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise ValueError(f"{op}: for batched (3-D) query, expected attn_mask to be None, "
                             f"2-D or 3-D but found {attn_mask.ndim}-D tensor instead")
        return True
    if q.ndim == 2:
        if k.ndim != 2 or v.ndim != 2:
            raise ValueError(f"{op}: for unbatched (2-D) query, expected key and value to be "
                             f"2-D but found {k.ndim}-D and {v.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise ValueError(f"{op}: for unbatched (2-D) query, expected key_padding_mask to "
                             f"be None or 1-D but found {key_padding_mask.ndim}-D tensor "
                             "instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise ValueError(f"{op}: for unbatched (2-D) query, expected attn_mask to be "
                                 f"None, 2-D or 3-D but found {attn_mask.ndim}-D tensor "
                                 "instead")
            want = (num_heads, q.shape[0], k.shape[0])
            if attn_mask.ndim == 3 and tuple(attn_mask.shape) != want:
                raise ValueError(f"{op}: expected attn_mask shape to be {want} but got "
                                 f"{tuple(attn_mask.shape)}")
        return False
    raise ValueError(f"{op}: query should be unbatched 2D or batched 3D tensor but received "
                     f"{q.ndim}-D query tensor")


def _in_projection(query, key, value, in_proj_weight, in_proj_bias, separate, e):
    """q, k, v projected: packed weight split like PyTorch (or three separate weights)."""
    if separate is not None:
        wq, wk, wv = separate
        bq = bk = bv = None
        if in_proj_bias is not None:
            bq, bk, bv = (in_proj_bias[i * e:(i + 1) * e] for i in range(3))
        return _lin(query, wq, bq), _lin(key, wk, bk), _lin(value, wv, bv)
    w, b = in_proj_weight, in_proj_bias
    if key is value:
        if query is key:  # self-attention: one product, split in three
            qkv = _lin(query, w, b)
            return qkv[..., :e], qkv[..., e:2 * e], qkv[..., 2 * e:]
        kv = _lin(key, w[e:], None if b is None else b[e:])
        return _lin(query, w[:e], None if b is None else b[:e]), kv[..., :e], kv[..., e:]
    parts = [(w[i * e:(i + 1) * e], None if b is None else b[i * e:(i + 1) * e])
             for i in range(3)]
    return tuple(_lin(x, wi, bi) for x, (wi, bi) in zip((query, key, value), parts))


def _pad_last(mask):
    """Append one zero column to a float mask (for bias_kv / zero attention)."""
    from .basic import pad
    return None if mask is None else pad(mask, (0, 1))


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention on ``(L, N, E)`` inputs, as ``torch.nn.functional``'s.

    The inputs are sequence-first: query ``(L, N, E)`` or unbatched ``(L, E)``,
    key ``(S, N, kdim)``, value ``(S, N, vdim)``.  Boolean masks are True
    where attention is *not* allowed (see the module docstring).

    Args:
      embed_dim_to_check: E, checked against the query.
      num_heads: H; ``E`` must be divisible by it.
      in_proj_weight, in_proj_bias: the packed ``(3E, E)`` / ``(3E,)`` input
        projection (or the separate ``q/k/v_proj_weight`` with
        ``use_separate_proj_weight``).
      bias_k, bias_v: ``(1, 1, E)`` biases appended to the key and value
        sequences (or None).
      add_zero_attn: append a zero key and value.
      dropout_p: dropout on the attention weights when ``training``.
      out_proj_weight, out_proj_bias: the output projection.
      key_padding_mask: ``(N, S)`` / ``(S,)``: True (or -inf) marks padding keys.
      need_weights: also return the attention weights.
      attn_mask: ``(L, S)`` or ``(N * H, L, S)``.
      static_k, static_v: ``(N * H, S, E / H)`` keys / values used as they are.
      average_attn_weights: average the returned weights over the heads.
      is_causal: a hint that ``attn_mask`` is the causal mask (it must be given).

    Returns:
      ``(attn_output (L, N, E), attn_weights)``; the weights are ``(N, L, S)``
      (``(N, H, L, S)`` without averaging), or None without ``need_weights``.

    Raises:
      ValueError: inconsistent shapes, E not divisible by H, mask shapes.
      RuntimeError: ``is_causal`` without ``attn_mask`` (PyTorch's message).
    """
    op = "multi_head_attention_forward"
    query, key, value = arr(query), arr(key), arr(value)
    kpm = None if key_padding_mask is None else arr(key_padding_mask)
    am = None if attn_mask is None else arr(attn_mask)
    batched = _check_mha_shapes(query, key, value, kpm, am, num_heads, op)
    same_kv, same_qk = key is value, query is key
    if not batched:
        query = fnp.expand_dims(query, 1)
        key = query if same_qk else fnp.expand_dims(key, 1)
        value = key if same_kv else fnp.expand_dims(value, 1)
        if kpm is not None:
            kpm = fnp.expand_dims(kpm, 0)
    tgt_len, bsz, embed_dim = query.shape
    dtype = query.dtype
    kpm = _float_mask(kpm, dtype, "key_padding_mask", op)
    if is_causal and am is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    am = _float_mask(am, dtype, "attn_mask", op)
    if embed_dim != embed_dim_to_check:
        raise ValueError(f"{op}: was expecting embedding dimension of {embed_dim_to_check}, "
                         f"but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise ValueError(f"{op}: embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise ValueError(f"{op}: key's sequence and batch dims {tuple(key.shape[:2])} do "
                             f"not match value's {tuple(value.shape[:2])}")
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight=True needs q_proj_weight, "
                             "k_proj_weight and v_proj_weight")
        separate = (q_proj_weight, k_proj_weight, v_proj_weight)
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise ValueError(f"{op}: key shape {tuple(key.shape)} does not match value shape "
                             f"{tuple(value.shape)}")
        if in_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight is False but in_proj_weight is "
                             "None")
        separate = None
    q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias, separate,
                             embed_dim)
    src_len = key.shape[0]
    if am is not None:
        if am.ndim == 2:
            if tuple(am.shape) != (tgt_len, src_len):
                raise ValueError(f"{op}: the shape of the 2D attn_mask is {tuple(am.shape)}, "
                                 f"but should be {(tgt_len, src_len)}.")
            am = fnp.expand_dims(am, 0)
        elif tuple(am.shape) != (bsz * num_heads, tgt_len, src_len):
            raise ValueError(f"{op}: the shape of the 3D attn_mask is {tuple(am.shape)}, but "
                             f"should be {(bsz * num_heads, tgt_len, src_len)}.")
    if (bias_k is None) != (bias_v is None):
        raise ValueError(f"{op}: bias_k and bias_v must be given together")
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise ValueError(f"{op}: bias cannot be added to static key or value.")
        k = fnp.concatenate([k, fnp.broadcast_to(bias_k, (1, bsz, embed_dim))], axis=0)
        v = fnp.concatenate([v, fnp.broadcast_to(bias_v, (1, bsz, embed_dim))], axis=0)
        am, kpm = _pad_last(am), _pad_last(kpm)

    # (len, N, E) -> (N, H, len, head_dim): PyTorch's (N * H) order, n major.
    def heads(x):
        return fnp.transpose(fnp.reshape(x, (x.shape[0], bsz, num_heads, head_dim)),
                             (1, 2, 0, 3))

    def static(x, name):
        x = arr(x)
        if tuple(x.shape[::2]) != (bsz * num_heads, head_dim):
            raise ValueError(f"{op}: expecting {name} of shape ({bsz * num_heads}, S, "
                             f"{head_dim}), got {tuple(x.shape)}")
        return fnp.reshape(x, (bsz, num_heads, x.shape[1], head_dim))

    q = heads(q)
    k = heads(k) if static_k is None else static(static_k, "static_k")
    v = heads(v) if static_v is None else static(static_v, "static_v")
    if add_zero_attn:
        k = fnp.concatenate([k, fnp.zeros((bsz, num_heads, 1, head_dim), dtype=k.dtype)],
                            axis=2)
        v = fnp.concatenate([v, fnp.zeros((bsz, num_heads, 1, head_dim), dtype=v.dtype)],
                            axis=2)
        am, kpm = _pad_last(am), _pad_last(kpm)
    src_len = k.shape[2]
    if kpm is not None:
        if tuple(kpm.shape) != (bsz, src_len):
            raise ValueError(f"{op}: expected key_padding_mask of shape {(bsz, src_len)}, got "
                             f"{tuple(kpm.shape)}")
        kpm = fnp.reshape(kpm, (bsz, 1, 1, src_len))
    if am is not None:
        am = fnp.reshape(am, (-1, num_heads if am.shape[0] > 1 else 1, tgt_len, src_len))
        mask = am if kpm is None else am + kpm
    else:
        mask = kpm
    if not training:
        dropout_p = 0.0
    scores = fnp.matmul(q * (1.0 / math.sqrt(head_dim)), fnp.swapaxes(k, -1, -2))
    weights = _masked_softmax(scores, None, mask)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, True)
    out = fnp.matmul(weights, v)  # (N, H, L, hd)
    out = fnp.reshape(fnp.transpose(out, (2, 0, 1, 3)), (tgt_len, bsz, embed_dim))
    out = _lin(out, out_proj_weight, out_proj_bias)
    if not need_weights:
        return (out if batched else out[:, 0]), None
    if average_attn_weights:
        weights = fnp.mean(weights, axis=1)
    if not batched:
        return out[:, 0], weights[0]
    return out, weights


__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]
