"""``funcgrad.random``: random numbers from explicit keys (JAX-style).

A *key* is a small ``uint32`` array of shape ``(2,)``.  Every draw is a pure
function of its key: the same key gives the same numbers, on every run and
platform, so a key must not be reused for two draws that should differ --
:func:`split` it instead::

    import funcgrad.random as fr
    key = fr.key(0)
    key, sub = fr.split(key)
    x = fr.normal(sub, (3,))

Keys are turned into streams with NumPy's Philox counter-based generator;
:func:`split` and :func:`fold_in` derive new keys by hashing with NumPy's
``SeedSequence`` (spawn keys), so the derived streams are independent.
Draws are constants to every transform (they carry no derivative).

The PyTorch-style front's global generator (``funcgrad.manual_seed``,
``rand``/``randn``, ``Tensor.uniform_``, ``nn.init``) is a :class:`Generator`
on the same machinery: it holds a key and splits it on each draw.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from .core import ConcretizationError, Tracer, concrete

__all__ = ["key", "PRNGKey", "split", "fold_in", "normal", "uniform", "bernoulli",
           "randint", "permutation", "categorical", "choice", "truncated_normal",
           "gumbel", "Generator", "default_generator", "manual_seed", "seed",
           "initial_seed", "next_key"]

_WORDS = 2  # a key is uint32[2]


def key(seed):
    """A key from an integer seed.

    Args:
      seed: a non-negative Python int (any size).

    Returns:
      A ``uint32`` array of shape ``(2,)``.

    Examples:
        >>> import funcgrad.random as fr
        >>> fr.key(0).shape
        (2,)
    """
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"key: the seed must be non-negative, got {seed}")
    return np.random.SeedSequence(seed).generate_state(_WORDS, dtype=np.uint32)


PRNGKey = key


def _key_data(k, op):
    """The key as a checked NumPy uint32[2] (keys are constants: never traced)."""
    if isinstance(k, Tracer):
        try:
            k = concrete(k)
        except ConcretizationError:
            raise ConcretizationError(
                f"random.{op}: the key is a traced value (its value is not known under "
                "vmap/jit). Split keys outside the transform and pass the draws, or "
                "pass the key as a static argument.") from None
    k = np.asarray(getattr(k, "get", lambda: k)())
    if k.shape != (_WORDS,) or k.dtype != np.uint32:
        raise TypeError(f"random.{op}: expected a key (uint32 array of shape (2,), made by "
                        f"funcgrad.random.key(seed)); got {k.dtype}{list(k.shape)}")
    return k


def _key_int(k):
    return int(k[0]) << 32 | int(k[1])


def _generator(k, op):
    """A NumPy Generator whose stream is a pure function of the key."""
    return np.random.Generator(np.random.Philox(key=_key_int(_key_data(k, op))))


def _device_generator(k, op):
    """When the default device is a GPU, its backend's generator, seeded from the key.

    Draws then happen on the device (CuPy's generator), so a GPU program never
    waits for host-made random numbers.  The streams differ from the CPU's: a
    key is reproducible per device, not across devices.  None on the CPU.
    """
    from . import backends
    if backends._default_is_cpu():
        return None
    spec = backends.default_device_spec()
    if spec[0] == "cpu":
        return None
    return backends.backend_for_device(spec).rng(_key_int(_key_data(k, op)), spec[1])


def _derive(k, tag, data, op):
    entropy = _key_int(_key_data(k, op))
    return np.random.SeedSequence(entropy, spawn_key=(tag, int(data))).generate_state(
        _WORDS, dtype=np.uint32)


def split(key, num=2):
    """Split a key into ``num`` new, independent keys.

    Returns:
      A ``uint32`` array of shape ``(num, 2)``; unpack it (``k1, k2 = split(k)``).
    """
    if int(num) < 1:
        raise ValueError(f"split: num must be at least 1, got {num}")
    return np.stack([_derive(key, 0, i, "split") for i in range(int(num))])


def fold_in(key, data):
    """A new key from ``key`` and an integer ``data`` (e.g. a step number)."""
    return _derive(key, 1, int(data) & 0xFFFFFFFFFFFFFFFF, "fold_in")


def _shape(shape):
    if shape is None:
        return ()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _float_dtype(dtype, op):
    dt = np.dtype(np.float64 if dtype is None else dtype)
    if dt.kind != "f":
        raise TypeError(f"random.{op}: dtype must be a floating-point dtype, got {dt}")
    return dt


def normal(key, shape=(), dtype=np.float64):
    """Standard normal draws of ``shape``."""
    dt = _float_dtype(dtype, "normal")
    g = _device_generator(key, "normal") or _generator(key, "normal")
    if dt in (np.float32, np.float64):
        return g.standard_normal(_shape(shape), dtype=dt)
    return g.standard_normal(_shape(shape)).astype(dt)


def uniform(key, shape=(), dtype=np.float64, minval=0.0, maxval=1.0):
    """Uniform draws in ``[minval, maxval)``."""
    dt = _float_dtype(dtype, "uniform")
    dg = _device_generator(key, "uniform")
    g = dg or _generator(key, "uniform")
    u = g.random(_shape(shape), dtype=dt if dt in (np.float32, np.float64) else np.float64)
    out = minval + (maxval - minval) * u
    if dg is None:
        out = np.asarray(out)
    return out.astype(dt, copy=False)


def bernoulli(key, p=0.5, shape=None):
    """Boolean draws that are True with probability ``p`` (broadcast to ``shape``)."""
    p = np.asarray(concrete(p))
    shape = p.shape if shape is None else _shape(shape)
    u = uniform(key, shape)
    if p.ndim == 0:
        return u < float(p)
    from .prims.creation import _xp_of
    return u < _xp_of(u).asarray(p)  # p on the draws' device


def randint(key, shape, minval, maxval, dtype=np.int64):
    """Integers drawn uniformly from ``[minval, maxval)``."""
    if int(maxval) <= int(minval):
        raise ValueError(f"randint: need minval < maxval, got [{minval}, {maxval})")
    return _generator(key, "randint").integers(int(minval), int(maxval), _shape(shape),
                                               dtype=np.dtype(dtype))


def permutation(key, x, axis=0):
    """A random permutation of ``range(x)`` (int ``x``), or ``x`` shuffled along ``axis``.

    Shuffling an array gathers it with constant indices, so it is
    differentiable in ``x``.
    """
    g = _generator(key, "permutation")
    if isinstance(x, (int, np.integer)):
        return g.permutation(int(x))
    from .prims.indexing import getitem
    perm = g.permutation(x.shape[axis])
    return getitem(x, (slice(None),) * (axis % x.ndim) + (perm,))


def gumbel(key, shape=(), dtype=np.float64):
    """Standard Gumbel draws (``-log(-log(u))``)."""
    dt = _float_dtype(dtype, "gumbel")
    u = _generator(key, "gumbel").random(_shape(shape))
    tiny = np.finfo(np.float64).tiny
    return (-np.log(-np.log(np.maximum(u, tiny)))).astype(dt)


def categorical(key, logits, axis=-1, shape=None):
    """Draw category indices with probabilities ``softmax(logits)`` (Gumbel-max).

    Args:
      logits: unnormalised log-probabilities; may be traced (the draw itself has
        no derivative).
      axis: the category axis.
      shape: output shape; defaults to ``logits.shape`` without ``axis``.
    """
    import funcgrad.numpy as fnp
    lshape = tuple(logits.shape)
    ax = axis % len(lshape)
    batch = lshape[:ax] + lshape[ax + 1:]
    shape = batch if shape is None else _shape(shape)
    noise_shape = shape[:len(shape) - len(batch)] + lshape
    g = gumbel(key, noise_shape, dtype=logits.dtype if logits.dtype.kind == "f"
               else np.float64)
    lead = len(noise_shape) - len(lshape)
    return fnp.argmax(fnp.stop_gradient(logits) + g, axis=lead + ax)


def choice(key, a, shape=(), replace=True, p=None, axis=0):
    """Random samples from ``a`` (an int ``n`` means ``arange(n)``)."""
    g = _generator(key, "choice")
    n = int(a) if isinstance(a, (int, np.integer)) else a.shape[axis]
    probs = None if p is None else np.asarray(concrete(p), dtype=np.float64)
    idx = g.choice(n, size=_shape(shape), replace=replace, p=probs)
    if isinstance(a, (int, np.integer)):
        return idx
    from .prims.indexing import getitem
    return getitem(a, (slice(None),) * (axis % a.ndim) + (idx,))


def _phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


_erfc = np.frompyfunc(math.erfc, 1, 1)


def _ndtri(p):
    """Inverse standard normal CDF: Acklam's approximation, then one Halley step."""
    a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
         1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
         6.680131188771972e+01, -1.328068155288572e+01]
    c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
         -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
         3.754408661907416e+00]
    p = np.clip(p, 1e-300, 1 - 1e-16)
    x = np.empty_like(p)
    lo, hi = p < 0.02425, p > 1 - 0.02425
    mid = ~(lo | hi)
    q = p[mid] - 0.5
    r = q * q
    x[mid] = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
              (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1))
    for mask, sgn, pp in ((lo, 1.0, p[lo]), (hi, -1.0, 1 - p[hi])):
        q = np.sqrt(-2 * np.log(pp))
        x[mask] = sgn * (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) \
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    e = 0.5 * _erfc(-x / np.sqrt(2)).astype(np.float64) - p
    u = e * np.sqrt(2 * np.pi) * np.exp(x * x / 2)
    return x - u / (1 + x * u / 2)


def truncated_normal(key, lower, upper, shape=(), dtype=np.float64):
    """Standard normal draws conditioned on ``lower < x < upper`` (scalar bounds).

    Rejection sampling when the interval holds at least 10% of the mass, the
    inverse CDF otherwise (far tails).
    """
    dt = _float_dtype(dtype, "truncated_normal")
    lower, upper = float(lower), float(upper)
    if not lower < upper:
        raise ValueError(f"truncated_normal: need lower < upper, got ({lower}, {upper})")
    shape = _shape(shape)
    g = _generator(key, "truncated_normal")
    plo, phi = _phi(lower), _phi(upper)
    if phi - plo >= 0.1:
        out = g.standard_normal(shape)
        bad = (out <= lower) | (out >= upper)
        while bad.any():
            out[bad] = g.standard_normal(int(bad.sum()))
            bad = (out <= lower) | (out >= upper)
    else:
        out = _ndtri(plo + (phi - plo) * g.random(shape))
        out = np.clip(out, np.nextafter(lower, upper), np.nextafter(upper, lower))
    return np.asarray(out).astype(dt)


# --------------------------------------------------------------------------- #
# A stateful generator over keys (the PyTorch-style front's global RNG)
# --------------------------------------------------------------------------- #
_DEFAULT_SEED = 67280421310721  # PyTorch's default seed of the CPU generator


class Generator:
    """``torch.Generator``: a key that is split on every draw (reproducible streams).

    Examples:
        >>> import funcgrad.random as fr
        >>> g = fr.Generator().manual_seed(0)
        >>> k1, k2 = g.next_key(), g.next_key()
        >>> bool((k1 != k2).any())
        True
    """

    def __init__(self, device="cpu"):
        self.device = device
        self._lock = threading.Lock()
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed):
        """Reset the stream to ``seed``; returns the generator."""
        seed = int(seed)
        if seed < 0:  # PyTorch accepts negative seeds (as their 64-bit pattern)
            seed &= 0xFFFFFFFFFFFFFFFF
        with self._lock:
            self._seed = seed
            self._key = key(seed)
        return self

    def seed(self):
        """Reseed from fresh OS entropy; returns the new seed."""
        s = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def next_key(self):
        """A fresh key; the generator advances (its own key is split)."""
        with self._lock:
            self._key, sub = split(self._key)
        return sub

    def get_state(self):
        """The current key (a copy); ``set_state`` restores it."""
        return self._key.copy()

    def set_state(self, state):
        self._key = _key_data(np.asarray(getattr(state, "data", state)), "set_state").copy()
        return self


default_generator = Generator()


def manual_seed(seed):
    """Seed the global generator (``torch.manual_seed``); returns it."""
    return default_generator.manual_seed(seed)


def seed():
    """Seed the global generator from OS entropy; returns the seed."""
    return default_generator.seed()


def initial_seed():
    """The seed the global generator was last seeded with."""
    return default_generator.initial_seed()


def next_key(generator=None):
    """A fresh key from ``generator`` (the global one by default)."""
    return (default_generator if generator is None else generator).next_key()
