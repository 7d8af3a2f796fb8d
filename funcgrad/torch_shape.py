"""Shape and indexing functions of the PyTorch-style front (``dim`` semantics).

``view``/``reshape``/``expand``/``permute``/``cat``/``gather``... with PyTorch's
argument conventions and error messages, over the ``funcgrad.numpy`` shape
primitives, so they record on the tape and work on traced data.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

import funcgrad.numpy as fnp

from . import torch_dtypes as D
from .core import concrete
from .prims import shape_ops as S
from .prims.indexing import gather_p, getitem, scatter as _scatter_prim
from .tensor import Tensor
from .torch_math import as_tensor_arg, cast, wrap

_int = builtins.int


# --------------------------------------------------------------------------- #
# Argument normalisation
# --------------------------------------------------------------------------- #
def wrap_dim(dim, ndim, op="dim"):
    """A dim in ``[-ndim, ndim)`` as a non-negative int (PyTorch's IndexError otherwise)."""
    n = builtins.max(ndim, 1)  # a 0-dim tensor accepts dim 0 and -1
    d = _int(dim)
    if not -n <= d < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {d})")
    return d % n


def dims_arg(dim, ndim, op="dim"):
    """``dim`` (None, an int, or a sequence; ``()`` means all) as None or a sorted tuple."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None
        dims = tuple(sorted(wrap_dim(d, ndim, op) for d in dim))
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}: dim {list(dim)} appears multiple times in the list "
                               "of dims")
        return dims if ndim else None
    return (wrap_dim(dim, ndim, op),) if ndim else None


def size_args(size, op="size"):
    """``*size`` as a tuple: ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all work."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
        if type(size) is tuple and all(type(s) is int for s in size):
            return size
    elif len(size) == 1 and isinstance(size[0], Tensor):
        size = size[0].tolist()
        size = size if isinstance(size, list) else [size]
    try:
        return tuple(_int(s) for s in size)
    except TypeError:
        raise TypeError(f"{op}(): argument 'size' must be a tuple of ints, but found "
                        f"{size!r}") from None


# --------------------------------------------------------------------------- #
# Reshaping
# --------------------------------------------------------------------------- #
def _resolved(shape, numel):
    shape = tuple(shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if any(s < -1 for s in shape):
        raise RuntimeError(f"invalid shape dimension {builtins.min(shape)}")
    known = math.prod(s for s in shape if s != -1)
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return tuple(numel // known if s == -1 else s for s in shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def reshape(input, *shape):  # noqa: A002 - PyTorch's name
    """A tensor with ``input``'s elements in a new shape (one dim may be -1).

    Raises:
        RuntimeError: ``shape '[3, 5]' is invalid for input of size 16``.
    """
    input = as_tensor_arg(input)
    shape = _resolved(size_args(shape, "reshape"), _int(input._data.size))
    if shape == tuple(input._data.shape):
        return input
    return wrap(S.reshape_p.bind(input, shape=shape))


view = reshape


def view_as(input, other):  # noqa: A002
    """``input.view(other.shape)``."""
    return reshape(input, tuple(other.shape))


def flatten(input, start_dim=0, end_dim=-1):  # noqa: A002
    """Merge dims ``start_dim..end_dim`` into one."""
    input = as_tensor_arg(input)
    shape = tuple(input.shape)
    if not shape:
        return reshape(input, (1,))
    s, e = wrap_dim(start_dim, len(shape), "flatten"), wrap_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    merged = math.prod(shape[s:e + 1])
    return reshape(input, shape[:s] + (merged,) + shape[e + 1:])


def unflatten(input, dim, sizes):  # noqa: A002
    """Split dim ``dim`` into ``sizes`` (one may be -1)."""
    input = as_tensor_arg(input)
    shape = tuple(input.shape)
    d = wrap_dim(dim, len(shape), "unflatten")
    sizes = _resolved(tuple(sizes), shape[d])
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


def squeeze(input, dim=None):  # noqa: A002
    """Remove size-1 dims (all, or those in ``dim``; other sizes are left alone)."""
    input = as_tensor_arg(input)
    shape = tuple(input.shape)
    dims = range(len(shape)) if dim is None else (dims_arg(dim, len(shape), "squeeze") or ())
    new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return wrap(S.reshape(input, new))


def unsqueeze(input, dim):  # noqa: A002
    """Insert a size-1 dim at ``dim`` (in ``[-ndim-1, ndim]``)."""
    input = as_tensor_arg(input)
    shape = tuple(input.shape)
    d = wrap_dim(dim, len(shape) + 1, "unsqueeze")
    return wrap(S.reshape(input, shape[:d] + (1,) + shape[d:]))


def permute(input, *dims):  # noqa: A002
    """Reorder the dims (``x.permute(2, 0, 1)``)."""
    input = as_tensor_arg(input)
    nd = input.ndim
    dims = size_args(dims, "permute")
    if len(dims) != nd:
        raise RuntimeError(f"permute(): number of dimensions in the tensor input does not "
                           f"match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    axes = tuple(wrap_dim(d, nd, "permute") for d in dims)
    if len(set(axes)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return wrap(S.transpose(input, axes))


def transpose(input, dim0, dim1):  # noqa: A002
    """Swap dims ``dim0`` and ``dim1``."""
    input = as_tensor_arg(input)
    nd = input.ndim
    if nd == 0:
        return input
    a, b = wrap_dim(dim0, nd, "transpose"), wrap_dim(dim1, nd, "transpose")
    axes = list(range(nd))
    axes[a], axes[b] = axes[b], axes[a]
    return wrap(S.transpose(input, tuple(axes)))


swapaxes = swapdims = transpose


def t(input):  # noqa: A002
    """Transpose a tensor of at most 2 dims."""
    input = as_tensor_arg(input)
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else input


def movedim(input, source, destination):  # noqa: A002
    """Move dim(s) ``source`` to position(s) ``destination``."""
    return wrap(fnp.moveaxis(as_tensor_arg(input), source, destination))


moveaxis = movedim


def _expand_error(shape, target, i):
    return RuntimeError(
        f"The expanded size of the tensor ({target[i]}) must match the existing size "
        f"({shape[i - len(target) + len(shape)]}) at non-singleton dimension {i}.  "
        f"Target sizes: {list(target)}.  Tensor sizes: {list(shape)}")


def expand(input, *sizes):  # noqa: A002
    """Broadcast size-1 dims to ``sizes`` (``-1`` keeps a dim; new dims go in front).

    Raises:
        RuntimeError: a non-1 dim differs from its target; the message names both shapes.
    """
    input = as_tensor_arg(input)
    shape = tuple(input.shape)
    target = list(size_args(sizes, "expand"))
    lead = len(target) - len(shape)
    if lead < 0:
        raise RuntimeError(f"expand({list(shape)}, size={target}): the number of sizes "
                           f"provided ({len(target)}) must be greater or equal to the number "
                           f"of dimensions in the tensor ({len(shape)})")
    for i, s in enumerate(target):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in "
                                   f"a leading, non-existing dimension {i}")
            continue
        have = shape[i - lead]
        if s == -1:
            target[i] = have
        elif have != 1 and have != s:
            raise _expand_error(shape, target, i)
    return wrap(S.broadcast_to(input, tuple(target)))


def expand_as(input, other):  # noqa: A002
    """``input.expand(other.shape)``."""
    return expand(input, tuple(other.shape))


def broadcast_to(input, size):  # noqa: A002
    """``input`` broadcast to ``size`` (as ``expand``; the error names both shapes)."""
    return expand(input, tuple(size))


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape."""
    shape = broadcast_shapes(*[tuple(t.shape) for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


def broadcast_shapes(*shapes):
    """The shape all ``shapes`` broadcast to."""
    try:
        return _size(np.broadcast_shapes(*[tuple(s) if not isinstance(s, int) else (s,)
                                            for s in shapes]))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape "
                           f"(shapes {[list(s) for s in shapes]})") from None


def _size(shape):
    from .torch_api import Size
    return Size(shape)


def repeat(input, *sizes):  # noqa: A002
    """Tile ``input`` ``sizes`` times along each dim (``np.tile``)."""
    input = as_tensor_arg(input)
    sizes = size_args(sizes, "repeat")
    if len(sizes) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                           "number of dimensions of tensor")
    return wrap(fnp.tile(input, sizes))


def tile(input, dims):  # noqa: A002
    """Repeat ``input`` along each dim (``dims`` padded with 1s in front)."""
    input = as_tensor_arg(input)
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return wrap(fnp.tile(input, dims))


def repeat_interleave(input, repeats, dim=None):  # noqa: A002
    """Repeat each element ``repeats`` times along ``dim`` (flattened if None)."""
    input = as_tensor_arg(input)
    if isinstance(repeats, Tensor):
        repeats = repeats.tolist()
    return wrap(fnp.repeat(input, repeats, None if dim is None else wrap_dim(dim, input.ndim)))


def flip(input, dims):  # noqa: A002
    """Reverse the order of elements along ``dims``."""
    input = as_tensor_arg(input)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return wrap(fnp.flip(input, tuple(wrap_dim(d, input.ndim, "flip") for d in dims)))


def roll(input, shifts, dims=None):  # noqa: A002
    """Roll elements along ``dims`` by ``shifts`` (wrapping around)."""
    return wrap(fnp.roll(as_tensor_arg(input), shifts, dims))


def contiguous(input, memory_format=None):  # noqa: A002
    """``input`` itself (funcgrad tensors are always contiguous)."""
    return input


# --------------------------------------------------------------------------- #
# Joining and splitting
# --------------------------------------------------------------------------- #
def _common(tensors, op):
    tensors = [as_tensor_arg(t) for t in tensors]
    if not tensors:
        raise RuntimeError(f"{op}(): expected a non-empty list of Tensors")
    rt = D.result_type(*[t for t in tensors if t.ndim] or tensors)
    return [cast(t, rt) for t in tensors]


def cat(tensors, dim=0):
    """Join tensors along an existing dim (promoting dtypes, as PyTorch)."""
    tensors = _common(tensors, "cat")
    nd = builtins.max(t.ndim for t in tensors)
    if any(t.ndim == 0 for t in tensors):
        raise RuntimeError("zero-dimensional tensor cannot be concatenated")
    d = wrap_dim(dim, nd, "cat")
    ref = tuple(tensors[0].shape)
    for i, t in enumerate(tensors[1:], 1):
        s = tuple(t.shape)
        if len(s) != len(ref) or any(a != b for k, (a, b) in enumerate(zip(s, ref)) if k != d):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                               f"Expected size {list(ref)} but got size {list(s)} for tensor "
                               f"number {i} in the list.")
    return wrap(S.concatenate(tensors, d))


concat = concatenate = cat


def stack(tensors, dim=0):
    """Join tensors of one shape along a new dim."""
    tensors = _common(tensors, "stack")
    ref = tuple(tensors[0].shape)
    for i, t in enumerate(tensors[1:], 1):
        if tuple(t.shape) != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(ref)} at entry 0 and {list(t.shape)} at entry {i}")
    return wrap(S.stack(tensors, wrap_dim(dim, len(ref) + 1, "stack")))


def hstack(tensors):
    """Join along dim 1 (dim 0 for 1-D tensors)."""
    tensors = [as_tensor_arg(t) for t in tensors]
    return cat([atleast_1d(t) for t in tensors], 0 if atleast_1d(tensors[0]).ndim == 1 else 1)


def vstack(tensors):
    """Join along dim 0, 1-D tensors as rows."""
    return cat([atleast_2d(t) for t in tensors], 0)


def atleast_1d(t):
    """``t`` with at least one dim."""
    return reshape(t, (1,)) if t.ndim == 0 else t


def atleast_2d(t):
    """``t`` with at least two dims (new dims in front)."""
    return reshape(t, (1,) * (2 - t.ndim) + tuple(t.shape)) if t.ndim < 2 else t


def split(tensor, split_size_or_sections, dim=0):
    """Split into chunks of ``split_size`` (the last may be smaller) or of the given sizes."""
    tensor = as_tensor_arg(tensor)
    d = wrap_dim(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        k = _int(split_size_or_sections)
        if k <= 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        sizes = [k] * (n // k) + ([n % k] if n % k else []) if k else [0]
    else:
        sizes = [_int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    return tuple(wrap(p) for p in S.split_sizes(tensor, sizes, d))


def chunk(input, chunks, dim=0):  # noqa: A002
    """Split into ``chunks`` pieces of size ``ceil(n / chunks)`` (the last may be smaller)."""
    input = as_tensor_arg(input)
    n = input.shape[wrap_dim(dim, input.ndim, "chunk")]
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0")
    size = -(-n // chunks) if n else 1
    return split(input, size, dim)


def tensor_split(input, indices_or_sections, dim=0):  # noqa: A002
    """Split into ``n`` nearly equal parts, or at the given indices, along ``dim``."""
    input = as_tensor_arg(input)
    d = wrap_dim(dim, input.ndim, "tensor_split")
    return tuple(wrap(p) for p in fnp.array_split(input, indices_or_sections, d))


def unbind(input, dim=0):  # noqa: A002
    """The slices along ``dim`` (``tuple(x)`` for dim 0)."""
    input = as_tensor_arg(input)
    d = wrap_dim(dim, input.ndim, "unbind")
    return tuple(wrap(getitem(input, (slice(None),) * d + (i,)))
                 for i in range(input.shape[d]))


def narrow(input, dim, start, length):  # noqa: A002
    """The slice ``start:start + length`` along ``dim``."""
    input = as_tensor_arg(input)
    d = wrap_dim(dim, input.ndim, "narrow")
    start = _int(start) + input.shape[d] if start < 0 else _int(start)
    return wrap(getitem(input, (slice(None),) * d + (slice(start, start + _int(length)),)))


# --------------------------------------------------------------------------- #
# Gathers and scatters along a dim
# --------------------------------------------------------------------------- #
def _index_data(index, op):
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index (got {idx.dtype})")
    return idx


def _along(shape, idx, d):
    """Index arrays selecting ``idx`` along ``d`` and the same position elsewhere."""
    nd = len(shape)
    arrays = [idx if k == d else
              np.arange(idx.shape[k]).reshape((1,) * k + (-1,) + (1,) * (nd - k - 1))
              for k in range(nd)]
    return tuple(("a", k) for k in range(nd)), arrays


def _check_along(input, idx, d, op):
    if idx.ndim != input.ndim:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input "
                           f"tensor ({op}: index {list(idx.shape)}, input {list(input.shape)})")
    for k in range(input.ndim):
        if k != d and idx.shape[k] > input.shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(idx.shape)} to be smaller than self "
                               f"{list(input.shape)} apart from dimension {d}")


def gather(input, dim, index):  # noqa: A002
    """``out[i][j] = input[index[i][j]][j]`` (for ``dim=0``): pick along ``dim``."""
    input = as_tensor_arg(input)
    idx = _index_data(index, "gather")
    d = wrap_dim(dim, input.ndim, "gather")
    _check_along(input, idx, d, "gather")
    template, arrays = _along(tuple(input.shape), idx, d)
    return wrap(gather_p.bind(input, *arrays, template=template))


def take_along_dim(input, indices, dim=None):  # noqa: A002
    """Pick ``indices`` along ``dim`` (flattened when ``dim`` is None)."""
    input = as_tensor_arg(input)
    if dim is None:
        return gather(reshape(input, -1), 0, reshape(as_tensor_arg(indices), -1))
    from .prims.indexing import take_along_axis
    d = wrap_dim(dim, input.ndim, "take_along_dim")
    return wrap(take_along_axis(input, _index_data(indices, "take_along_dim"), d))


def _scatter(input, dim, index, src, mode, op):
    input = as_tensor_arg(input)
    idx = _index_data(index, op)
    d = wrap_dim(dim, input.ndim, op)
    _check_along(input, idx, d, op)
    if isinstance(src, Tensor) or hasattr(src, "shape"):
        src = as_tensor_arg(src)
        if src.ndim:  # only the leading idx-shaped block of src is used
            src = getitem(src, tuple(slice(0, s) for s in idx.shape))
    else:
        src = np.full(idx.shape, src, dtype=input._data.dtype)
    template, arrays = _along(tuple(input.shape), idx, d)
    return wrap(_scatter_prim(input, src, arrays, template, mode))


def scatter(input, dim, index, src=None, value=None, reduce=None):  # noqa: A002
    """Out-of-place ``scatter``: ``out[index[i][j]][j] = src[i][j]`` (``dim=0``)."""
    s = src if src is not None else value
    mode = {None: "set", "add": "add", "sum": "add", "multiply": "multiply",
            "prod": "multiply", "amax": "max", "amin": "min"}[reduce]
    return _scatter(input, dim, index, s, mode, "scatter")


def scatter_add(input, dim, index, src):  # noqa: A002
    """``out = input``; ``out[index[i][j]][j] += src[i][j]`` (``dim=0``); repeats accumulate."""
    return _scatter(input, dim, index, src, "add", "scatter_add")


def index_select(input, dim, index):  # noqa: A002
    """The entries of ``input`` at positions ``index`` (1-D) along ``dim``."""
    input = as_tensor_arg(input)
    idx = _index_data(index, "index_select")
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    d = wrap_dim(dim, input.ndim, "index_select")
    return wrap(getitem(input, (slice(None),) * d + (idx.reshape(-1),)))


def masked_select(input, mask):  # noqa: A002
    """The elements where ``mask`` (broadcast) is True, as a 1-D tensor."""
    input = as_tensor_arg(input)
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    shape = np.broadcast_shapes(tuple(input.shape), tuple(m.shape))
    return wrap(getitem(S.broadcast_to(input, shape), fnp.broadcast_to(m, shape)))


def nonzero(input, *, as_tuple=False):  # noqa: A002
    """Indices of the non-zero elements: an ``(n, ndim)`` int64 tensor, or a tuple of 1-D."""
    data = np.asarray(concrete(as_tensor_arg(input)._data))
    idx = np.nonzero(data)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in idx)
    return Tensor._wrap(np.stack(idx, axis=1).astype(np.int64) if idx else
                        np.zeros((0, 0), np.int64))


def argwhere(input):  # noqa: A002
    """Indices of the non-zero elements, ``(n, ndim)``."""
    return nonzero(input)


# --------------------------------------------------------------------------- #
# Matrix structure
# --------------------------------------------------------------------------- #
def tril(input, diagonal=0):  # noqa: A002
    """Lower triangle of the last two dims (entries above ``diagonal`` zeroed)."""
    return wrap(fnp.tril(as_tensor_arg(input), diagonal))


def triu(input, diagonal=0):  # noqa: A002
    """Upper triangle of the last two dims (entries below ``diagonal`` zeroed)."""
    return wrap(fnp.triu(as_tensor_arg(input), diagonal))


def diag(input, diagonal=0):  # noqa: A002
    """The diagonal of a matrix, or the matrix with a 1-D ``input`` on its diagonal."""
    return wrap(fnp.diag(as_tensor_arg(input), diagonal))


def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The diagonal with ``offset`` of the ``dim1``/``dim2`` planes."""
    return wrap(fnp.diagonal(as_tensor_arg(input), offset, dim1, dim2))


def trace(input):  # noqa: A002
    """Sum of the main diagonal of a matrix."""
    return wrap(fnp.trace(as_tensor_arg(input)))


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (``indexing='ij'`` by default, as PyTorch)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    return tuple(wrap(m) for m in fnp.meshgrid(*[as_tensor_arg(t) for t in tensors],
                                               indexing=indexing))


def numel(input):  # noqa: A002
    """The number of elements."""
    return math.prod(input._data.shape)
