"""Samplers of ``funcgrad.utils.data`` (import them from there) and their randomness."""
from __future__ import annotations

import itertools

import numpy as np

from .. import random as _random
from ..tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


# --------------------------------------------------------------------------- #
# Randomness
# --------------------------------------------------------------------------- #
class _Draw:
    """Draws for one sampling pass, from a funcgrad Generator (or global) or a NumPy one."""

    def __init__(self, generator):
        if isinstance(generator, np.random.Generator):
            self.np = generator
        else:
            if generator is not None and not hasattr(generator, "next_key"):
                raise TypeError("generator must be a funcgrad.random.Generator or a "
                                f"numpy.random.Generator, got {type(generator).__name__}")
            self.np = None
            self.generator = generator

    def _key(self):
        return _random.next_key(self.generator)

    def permutation(self, n):
        if self.np is not None:
            return self.np.permutation(n)
        return np.asarray(_random.permutation(self._key(), n))

    def randint(self, high, size):
        if self.np is not None:
            return self.np.integers(0, high, size)
        return np.asarray(_random.randint(self._key(), (size,), 0, high))

    def choice(self, n, size, replace, p):
        if self.np is not None:
            return self.np.choice(n, size=size, replace=replace, p=p)
        return np.asarray(_random.choice(self._key(), n, shape=(size,), replace=replace, p=p))


# --------------------------------------------------------------------------- #
# Samplers
# --------------------------------------------------------------------------- #
class Sampler:
    """Base class: an iterable over dataset indices (or over lists of them)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices: a permutation, or ``num_samples`` draws with replacement.

    Args:
      data_source: the dataset (its length is used).
      replacement: draw with replacement.
      num_samples: how many indices per pass (default: the dataset's length;
        without replacement, passes over several permutations when larger).
      generator: a funcgrad.random.Generator (global by default) or a NumPy Generator.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        draw = _Draw(self.generator)
        if self.replacement:
            yield from draw.randint(n, self.num_samples).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from draw.permutation(n).tolist()
        if self.num_samples % n:
            yield from draw.permutation(n).tolist()[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a random order each pass."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in _Draw(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or \
                num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(weights._data if isinstance(weights, Tensor) else weights,
                       dtype=np.float64)
        if w.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        if not replacement and num_samples > w.size:
            raise ValueError(f"cannot draw {num_samples} samples without replacement from "
                             f"{w.size} weights")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        yield from _Draw(self.generator).choice(self.weights.size, self.num_samples,
                                                self.replacement, p).tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``.

    Examples:
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError("drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
