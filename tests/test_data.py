"""funcgrad.utils.data: datasets, samplers, collation and the DataLoader."""
import collections

import numpy as np
import pytest

import funcgrad.random as fr
from funcgrad.tensor import Tensor
from funcgrad.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                                 IterableDataset, RandomSampler, SequentialSampler, Subset,
                                 SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                                 default_collate, default_convert, random_split)


def _ds(n=10):
    return TensorDataset(Tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2)),
                         Tensor(np.arange(n)))


def _order(loader):
    return [int(v) for b in loader for v in np.asarray(b[1].data).ravel()]


# --------------------------------------------------------------------------- #
# datasets
# --------------------------------------------------------------------------- #
def test_tensor_dataset_indexing_and_size_mismatch():
    ds = _ds(4)
    assert len(ds) == 4
    x, y = ds[2]
    np.testing.assert_array_equal(x.data, [4.0, 5.0])
    assert int(y.data) == 2
    with pytest.raises(ValueError, match=r"Size mismatch between tensors.*\[3, 4\]"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    arrays = TensorDataset(np.zeros((3, 2)), np.arange(3))  # NumPy arrays work too
    assert len(arrays) == 3 and int(arrays[1][1]) == 1


def test_concat_subset_and_add():
    a, b = _ds(3), _ds(2)
    c = a + b
    assert isinstance(c, ConcatDataset) and len(c) == 5
    assert int(c[3][1].data) == 0 and int(c[-1][1].data) == 1
    with pytest.raises(IndexError):
        c[5]
    s = Subset(a, [2, 0])
    assert len(s) == 2 and int(s[0][1].data) == 2


def test_random_split_lengths_fractions_and_reproducibility():
    parts = random_split(range(10), [3, 7], generator=fr.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    again = random_split(range(10), [3, 7], generator=fr.Generator().manual_seed(1))
    assert list(again[0]) == list(parts[0])
    fr_parts = random_split(range(11), [0.5, 0.3, 0.2], generator=fr.Generator().manual_seed(1))
    assert [len(p) for p in fr_parts] == [6, 3, 2]  # floor 5,3,2 + remainder to the first
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [3, 3])


# --------------------------------------------------------------------------- #
# samplers
# --------------------------------------------------------------------------- #
def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    perm = list(RandomSampler(range(6), generator=fr.Generator().manual_seed(0)))
    assert sorted(perm) == list(range(6))
    repl = list(RandomSampler(range(3), replacement=True, num_samples=20,
                              generator=fr.Generator().manual_seed(0)))
    assert len(repl) == 20 and set(repl) <= {0, 1, 2}
    more = list(RandomSampler(range(3), num_samples=7, generator=fr.Generator().manual_seed(0)))
    assert len(more) == 7 and sorted(more[:3]) == [0, 1, 2] and sorted(more[3:6]) == [0, 1, 2]
    sub = list(SubsetRandomSampler([5, 7, 9], generator=fr.Generator().manual_seed(0)))
    assert sorted(sub) == [5, 7, 9]
    w = list(WeightedRandomSampler([0.0, 1.0, 0.0], 5, generator=fr.Generator().manual_seed(0)))
    assert w == [1] * 5
    np_gen = list(RandomSampler(range(5), generator=np.random.default_rng(0)))
    assert sorted(np_gen) == list(range(5))
    assert list(BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    assert len(BatchSampler(range(5), 2, drop_last=False)) == 3
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(5), 0, False)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)


# --------------------------------------------------------------------------- #
# collation
# --------------------------------------------------------------------------- #
def test_default_collate_tuples_dicts_numbers_strings():
    batch = [({"x": np.zeros(2, np.float32), "name": "a"}, 1, 0.5, True),
             ({"x": np.ones(2, np.float32), "name": "b"}, 2, 1.5, False)]
    d, ints, floats, bools = default_collate(batch)
    assert isinstance(d["x"], Tensor) and d["x"].dtype == np.float32
    assert tuple(d["x"].shape) == (2, 2) and d["name"] == ["a", "b"]
    assert ints.dtype == np.int64 and floats.dtype == np.float64 and bools.dtype == np.bool_
    np.testing.assert_array_equal(ints.data, [1, 2])
    od = default_collate([collections.OrderedDict(a=1), collections.OrderedDict(a=2)])
    assert isinstance(od, collections.OrderedDict)
    Point = collections.namedtuple("Point", "x y")
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.y.dtype == np.float64
    assert isinstance(default_collate([[1, 2], [3, 4]]), list)


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_collate_keeps_the_graph_of_tensors_that_require_grad():
    w = Tensor(np.ones(2), requires_grad=True)
    batch = default_collate([w * 2, w * 3])
    batch.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [5.0, 5.0])


def test_default_convert():
    out = default_convert({"a": np.zeros(2), "b": [np.float32(1.0), 3]})
    assert isinstance(out["a"], Tensor) and isinstance(out["b"][0], Tensor)
    assert out["b"][1] == 3


# --------------------------------------------------------------------------- #
# DataLoader
# --------------------------------------------------------------------------- #
def test_batching_and_drop_last():
    loader = DataLoader(_ds(10), batch_size=4)
    shapes = [tuple(x.shape) for x, _ in loader]
    assert shapes == [(4, 2), (4, 2), (2, 2)] and len(loader) == 3
    assert _order(loader) == list(range(10))
    loader = DataLoader(_ds(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and _order(loader) == list(range(8))


def test_shuffle_reproducible_with_seed_and_new_each_epoch():
    ds = _ds(20)
    fr.manual_seed(0)
    loader = DataLoader(ds, batch_size=5, shuffle=True)
    e1, e2 = _order(loader), _order(loader)
    assert sorted(e1) == list(range(20)) and e1 != e2
    fr.manual_seed(0)
    assert _order(loader) == e1 and _order(loader) == e2
    g1 = fr.Generator().manual_seed(7)
    g2 = fr.Generator().manual_seed(7)
    assert _order(DataLoader(ds, batch_size=3, shuffle=True, generator=g1)) == \
        _order(DataLoader(ds, batch_size=3, shuffle=True, generator=g2))


def test_sampler_batch_sampler_none_batch_and_options():
    ds = _ds(6)
    assert _order(DataLoader(ds, batch_size=2, sampler=[5, 4, 3, 2, 1, 0])) == [5, 4, 3, 2, 1, 0]
    bs = DataLoader(ds, batch_sampler=[[0, 1, 2], [5]])
    assert [tuple(x.shape) for x, _ in bs] == [(3, 2), (1, 2)] and len(bs) == 2
    unbatched = list(DataLoader(ds, batch_size=None))
    assert len(unbatched) == 6 and tuple(unbatched[0][0].shape) == (2,)
    pinned = DataLoader(ds, batch_size=3, num_workers=2, pin_memory=True)
    assert _order(pinned) == list(range(6))  # workers run in-process; pinning is a no-op
    custom = DataLoader(ds, batch_size=3, collate_fn=lambda b: len(b))
    assert list(custom) == [3, 3]
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)


class _Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(np.arange(self.n, dtype=np.float64))

    def __len__(self):
        return self.n


def test_iterable_dataset():
    loader = DataLoader(_Stream(7), batch_size=3)
    assert [tuple(b.shape) for b in loader] == [(3,), (3,), (1,)] and len(loader) == 3
    loader = DataLoader(_Stream(7), batch_size=3, drop_last=True)
    assert [tuple(b.shape) for b in loader] == [(3,), (3,)] and len(loader) == 2
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(_Stream(3), shuffle=True)


def test_map_dataset_subclass_and_getitems():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": float(i), "y": i * i}

    batches = list(DataLoader(Squares(), batch_size=2))
    np.testing.assert_array_equal(batches[1]["y"].data, [4, 9])

    class Batched(Squares):
        calls = 0

        def __getitems__(self, idx):
            Batched.calls += 1
            return [self[i] for i in idx]

    list(DataLoader(Batched(), batch_size=2))
    assert Batched.calls == 3


def test_tensor_dataset_batches_equal_the_per_sample_path():
    """The gather shortcut for TensorDataset (and its Subsets) gives default_collate's batches."""
    rng = np.random.default_rng(0)
    w = Tensor(rng.normal(size=(9, 3)), requires_grad=True)
    ds = TensorDataset(w, np.arange(9), Tensor(rng.normal(size=9).astype(np.float32)))
    sub = random_split(ds, [6, 3], generator=fr.Generator().manual_seed(0))[0]
    for d in (ds, sub):
        indices = [[4, 0, 2], [1, 5]]
        fast = list(DataLoader(d, batch_sampler=indices))
        slow = list(DataLoader(d, batch_sampler=indices,
                               collate_fn=lambda b: default_collate(b)))
        for fb, sb in zip(fast, slow):
            assert isinstance(fb, list) and len(fb) == len(sb) == 3
            for x, y in zip(fb, sb):
                assert x.dtype == y.dtype and tuple(x.shape) == tuple(y.shape)
                np.testing.assert_array_equal(x.data, y.data)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    batch[0].sum().backward()  # the gather keeps the graph, as stacking does
    np.testing.assert_array_equal(w.grad.data[:4], np.ones((4, 3)))
