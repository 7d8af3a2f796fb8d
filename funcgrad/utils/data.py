"""``funcgrad.utils.data``: PyTorch's datasets, samplers, ``DataLoader`` and collation.

::

    from funcgrad.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(x, y)                       # Tensors or arrays, same first dim
    for xb, yb in DataLoader(ds, batch_size=32, shuffle=True, drop_last=True):
        ...

**Randomness.** Shuffling, random sampling and :func:`random_split` draw a
fresh key from a :class:`funcgrad.random.Generator` each time they run: the
one passed as ``generator=``, or the global generator seeded by
``funcgrad.random.manual_seed`` (``funcgrad.manual_seed``).  So the same seed
gives the same batches, and each epoch of a loader gets a new order.  A NumPy
``numpy.random.Generator`` is also accepted as ``generator=``.  The orders are
funcgrad's own: they do not reproduce PyTorch's permutations.

**Workers.** ``num_workers > 0`` is accepted and the data are loaded in the
calling process (funcgrad arrays live in this process; NumPy releases the GIL
in the heavy work).  ``pin_memory`` is a no-op (there is no pinned host memory
on the CPU backend); ``timeout``, ``prefetch_factor``, ``persistent_workers``,
``worker_init_fn`` and ``multiprocessing_context`` are accepted and unused.
"""
from __future__ import annotations

import bisect
import itertools
import math
import warnings

import numpy as np

from ..tensor import Tensor
from ._collate import default_collate, default_convert
from ._sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,  # noqa: F401
                       SubsetRandomSampler, WeightedRandomSampler, _Draw)

__all__ = ["Dataset", "IterableDataset", "ChainDataset", "TensorDataset", "ConcatDataset",
           "Subset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DataLoader",
           "default_collate", "default_convert", "get_worker_info"]


# --------------------------------------------------------------------------- #
# Datasets
# --------------------------------------------------------------------------- #
class Dataset:
    """A map-style dataset: subclasses define ``__getitem__`` (and usually ``__len__``)."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """An iterable-style dataset: subclasses define ``__iter__`` (a stream of samples)."""

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Iterable datasets, one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


class TensorDataset(Dataset):
    """Samples are ``tuple(t[i] for t in tensors)``; all tensors share their first size.

    Raises:
      ValueError: the tensors' first dimensions differ (names every size).

    Examples:
        >>> import numpy as np
        >>> ds = TensorDataset(np.arange(6).reshape(3, 2), np.arange(3))
        >>> len(ds), ds[1][1]
        (3, np.int64(1))
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        sizes = [t.shape[0] if len(t.shape) else None for t in tensors]
        if any(s is None for s in sizes):
            raise ValueError("TensorDataset: every tensor needs a first (sample) dimension; "
                             f"got shapes {[tuple(t.shape) for t in tensors]}")
        if any(s != sizes[0] for s in sizes):
            raise ValueError("Size mismatch between tensors: first dimensions are "
                             f"{sizes}; every tensor must have one row per sample")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class ConcatDataset(Dataset):
    """Several map-style datasets, indexed one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        if d == len(self.datasets):
            raise IndexError(f"index {idx} is out of range for a ConcatDataset of "
                             f"length {len(self)}")
        start = self.cumulative_sizes[d - 1] if d > 0 else 0
        return self.datasets[d][idx - start]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random subsets.

    Args:
      dataset: a map-style dataset.
      lengths: the subsets' lengths, or fractions summing to 1 (the
        remainder of flooring is spread one by one from the first subset).
      generator: a funcgrad.random.Generator (or NumPy Generator); the
        global generator by default.

    Returns:
      A list of :class:`Subset`.

    Raises:
      ValueError: lengths do not sum to the dataset's length (or to 1).

    Examples:
        >>> import funcgrad.random as fr
        >>> a, b = random_split(range(10), [0.7, 0.3], generator=fr.Generator().manual_seed(0))
        >>> len(a), len(b)
        (7, 3)
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        subset_lengths = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            subset_lengths.append(int(math.floor(n * frac)))
        remainder = n - sum(subset_lengths)
        for i in range(remainder):
            subset_lengths[i % len(subset_lengths)] += 1
        lengths = subset_lengths
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              "empty dataset.", stacklevel=2)
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input "
                         f"dataset! (lengths {list(lengths)} sum to {sum(lengths)}, the "
                         f"dataset has {n} samples)")
    perm = _Draw(generator).permutation(n).tolist()
    out = []
    offset = 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + length]))
        offset += length
    return out


# --------------------------------------------------------------------------- #
# DataLoader
# --------------------------------------------------------------------------- #
def _gather_batch(dataset, indices):
    """``default_collate([dataset[i] for i in indices])`` in one gather per tensor.

    For a TensorDataset (possibly inside Subsets) the collated batch is each
    tensor indexed by the index array -- the same values, dtypes and graph as
    stacking the samples, without a Python-level loop over them.  None when
    the shortcut does not apply.
    """
    while type(dataset) is Subset:
        indices = [dataset.indices[i] for i in indices]
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:
        return None
    idx = np.asarray(indices, dtype=np.int64)
    out = []
    for t in dataset.tensors:
        if isinstance(t, Tensor):
            out.append(t[idx])
        elif isinstance(t, np.ndarray) and t.dtype.kind not in "OSUV":
            out.append(Tensor(t[idx]))
        else:
            return None
    return out


def get_worker_info():
    """None: funcgrad loads data in the calling process (there are no workers)."""
    return None


class DataLoader:
    """Iterate over a dataset in (shuffled) batches (``torch.utils.data.DataLoader``).

    Args:
      dataset: a map-style :class:`Dataset` (anything with ``__getitem__`` and
        ``__len__``) or an :class:`IterableDataset`.
      batch_size: samples per batch (default 1); None disables batching.
      shuffle: reshuffle every epoch (a :class:`RandomSampler`).
      sampler: a :class:`Sampler` (or iterable) of indices; excludes ``shuffle``.
      batch_sampler: yields lists of indices; excludes batch_size, shuffle,
        sampler and drop_last.
      num_workers: accepted; loading happens in this process (see the module doc).
      collate_fn: merges a list of samples (default :func:`default_collate`).
      pin_memory: a no-op on the CPU backend.
      drop_last: drop the last incomplete batch.
      generator: for shuffling (see the module doc).

    Raises:
      ValueError: conflicting options, with PyTorch's messages.

    Examples:
        >>> import numpy as np
        >>> dl = DataLoader(TensorDataset(np.arange(10.0)), batch_size=4)
        >>> [tuple(b[0].shape) for b in dl]
        [(4,), (4,), (2,)]
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
                 timeout=0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 "
                             "to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    def __iter__(self):
        if self._iterable:
            return self._iter_iterable()
        return self._iter_map()

    def _iter_map(self):
        dataset, collate = self.dataset, self.collate_fn
        if self.batch_sampler is not None:
            getitems = getattr(dataset, "__getitems__", None)
            fast = collate is default_collate
            for indices in self.batch_sampler:
                batch = _gather_batch(dataset, indices) if fast else None
                if batch is not None:
                    yield batch
                    continue
                samples = getitems(indices) if callable(getitems) else \
                    [dataset[i] for i in indices]
                yield collate(samples)
        else:
            for i in self.sampler:
                yield collate(dataset[i])

    def _iter_iterable(self):
        it = iter(self.dataset)
        if self.batch_size is None:
            for sample in it:
                yield self.collate_fn(sample)
            return
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)
