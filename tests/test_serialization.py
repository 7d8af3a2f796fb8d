"""funcgrad.save / funcgrad.load: round trips, atomic writes, corruption, no unpickling."""
import collections
import io
import os
import pathlib
import pickle
import zipfile

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.serialization import CheckpointError, load, save
from funcgrad.tensor import Tensor


def _model_state():
    return collections.OrderedDict([
        ("layer.weight", Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))),
        ("layer.bias", Tensor(np.linspace(0, 1, 3))),                      # float64
        ("bn.num_batches_tracked", Tensor(np.asarray(7, dtype=np.int64))),  # 0-d int64
        ("mask", Tensor(np.array([True, False, True]))),
        ("half", Tensor(np.ones(2, np.float16))),
    ])


def _assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, Tensor):
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
        assert a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(np.asarray(a.data), np.asarray(b.data))
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


def test_round_trip_model_state_dict(tmp_path):
    sd = _model_state()
    save(sd, tmp_path / "model.pt")
    _assert_same(sd, load(tmp_path / "model.pt"))
    _assert_same(sd, load(str(tmp_path / "model.pt"), map_location="cpu", weights_only=True))


def test_round_trip_optimizer_state_dict_and_plain_values(tmp_path):
    w = Tensor(np.ones(3), requires_grad=True)
    opt = fg.optim.Adam([{"params": [w]}, {"params": [Tensor(np.ones(2, np.float32),
                                                              requires_grad=True)]}],
                        lr=0.01, amsgrad=True)
    w.grad = Tensor(np.full(3, 0.5))
    opt.step()
    obj = {"optimizer": opt.state_dict(), "epoch": 3, "best": float("inf"), "nan": float("nan"),
           "big": 2 ** 80, "name": "run-1", "flags": [True, None, False], "pair": (1, 2.5),
           "keys": {1: "int key", "1": "str key"}, "np": np.arange(3, dtype=np.int32),
           "np_scalar": np.float32(2.5), "c": 1 + 2j, "param": w}
    save(obj, tmp_path / "opt.pt")
    back = load(tmp_path / "opt.pt")
    _assert_same(obj, back)
    assert back["param"].requires_grad and back["optimizer"]["state"][0]["step"].dtype == \
        np.float32


def test_shared_tensors_stay_shared(tmp_path):
    t = Tensor(np.ones(2))
    save({"a": t, "b": [t]}, tmp_path / "s.pt")
    back = load(tmp_path / "s.pt")
    assert back["a"] is back["b"][0]


def test_file_objects_and_plain_numpy_reading(tmp_path):
    buf = io.BytesIO()
    save(_model_state(), buf)
    buf.seek(0)
    _assert_same(_model_state(), load(buf))
    save(_model_state(), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:  # a plain .npz
        assert "__funcgrad__" in z.files and len(z.files) == 6


def test_unsupported_objects_are_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store a .*function.* at <root>\['fn'\]"):
        save({"fn": lambda: 0}, tmp_path / "x.pt")
    with pytest.raises(TypeError, match="object"):
        save({"arr": np.array([None, 1], dtype=object)}, tmp_path / "x.pt")
    with pytest.raises(TypeError, match="never pickles"):
        save({}, tmp_path / "x.pt", pickle_module=pickle)
    assert not os.listdir(tmp_path)


def test_map_location_other_than_cpu_is_refused(tmp_path):
    save({"a": 1}, tmp_path / "a.pt")
    assert load(tmp_path / "a.pt", map_location=lambda storage, loc: storage)["a"] == 1
    with pytest.raises(ValueError, match="map_location"):
        load(tmp_path / "a.pt", map_location="cuda:0")


# --------------------------------------------------------------------------- #
# atomicity
# --------------------------------------------------------------------------- #
def test_a_crash_mid_write_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save({"version": 1, "w": Tensor(np.ones(1000))}, path)
    real_write = np.lib.format.write_array
    calls = []

    def write_then_crash(f, arr, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first array is already in the temp file
            f.write(b"\x00" * 100)
            raise OSError("disk full (simulated)")
        return real_write(f, arr, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_crash)
    with pytest.raises(OSError, match="simulated"):
        save({"version": 2, "w": Tensor(np.zeros(1000)), "v": Tensor(np.zeros(5))}, path)
    monkeypatch.undo()
    assert len(calls) == 2
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # no temp file left behind
    back = load(path)
    assert back["version"] == 1 and float(back["w"].data.sum()) == 1000.0


def test_an_interrupt_before_the_rename_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save({"version": 1}, path)
    fsyncs = []
    real_fsync = os.fsync

    def interrupted(fd):
        fsyncs.append(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save({"version": 2}, path)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert fsyncs and os.listdir(tmp_path) == ["ckpt.pt"]
    assert load(path)["version"] == 1


def test_save_fsyncs_the_file_and_the_directory(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    save({"a": 1}, tmp_path / "a.pt")
    assert len(synced) == 2


# --------------------------------------------------------------------------- #
# corruption and refusals
# --------------------------------------------------------------------------- #
def _good_file(tmp_path):
    path = tmp_path / "good.pt"
    save({"w": Tensor(np.arange(4096, dtype=np.float64)), "epoch": 2}, path)
    return path


@pytest.mark.parametrize("keep", [0, 10, 0.5, -22, -1])
def test_truncated_files_raise_a_clear_error(tmp_path, keep):
    path = _good_file(tmp_path)
    raw = path.read_bytes()
    n = int(len(raw) * keep) if isinstance(keep, float) else (keep % len(raw) if keep else 0)
    path.write_bytes(raw[:n])
    with pytest.raises(CheckpointError) as e:
        load(path)
    msg = str(e.value)
    assert str(path) in msg
    assert any(w in msg for w in ("truncated", "corrupted", "empty")), msg


@pytest.mark.parametrize("where", ["array", "manifest"])
def test_flipped_bytes_raise_a_clear_error(tmp_path, where):
    path = _good_file(tmp_path)
    raw = bytearray(path.read_bytes())
    if where == "array":
        at = raw.index(np.arange(100, 101, dtype=np.float64).tobytes())
    else:
        at = raw.index(b'"format"')
    for i in range(at, at + 4):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupted") as e:
        load(path)
    assert str(path) in str(e.value)


class _Evil:
    """Unpickling this creates a marker file: loading must never do it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_pickle_renamed_pt_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        path.write_bytes(pickle.dumps({"w": _Evil(marker)}, protocol=protocol))
        with pytest.raises(CheckpointError, match="pickle") as e:
            load(path)
        assert "never unpickles" in str(e.value) and str(path) in str(e.value)
    # a zip holding a pickle, laid out like torch.save's files
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(_Evil(marker)))
    with pytest.raises(CheckpointError, match="PyTorch checkpoint"):
        load(path)
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Evil(marker)))  # the payload is real: unpickling runs it
    assert marker.exists()


def test_a_torch_save_file_is_refused(tmp_path):
    torch = pytest.importorskip("torch", reason="needs PyTorch to write a torch.save file")
    path = tmp_path / "t.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(CheckpointError, match="PyTorch checkpoint"):
        load(path)


def test_other_files_are_refused(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(CheckpointError, match="no '__funcgrad__.npy' manifest"):
        load(tmp_path / "plain.npz")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a funcgrad checkpoint"):
        load(tmp_path / "text.pt")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.pt")


def test_resume_training_from_a_checkpoint_continues_identically(tmp_path):
    """model + optimizer + scheduler saved mid-training, loaded into fresh objects."""
    nn = getattr(fg, "nn", None)
    if nn is None or not hasattr(nn, "Linear") or not hasattr(nn.Module, "state_dict"):
        pytest.skip("funcgrad.nn.Linear / Module.state_dict not available yet")
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(32, 4)).astype(np.float32))
    y = Tensor(rng.normal(size=(32, 2)).astype(np.float32))

    def make():
        model = nn.Linear(4, 2)
        opt = fg.optim.AdamW(model.parameters(), lr=0.05)
        sched = fg.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        return model, opt, sched

    def train(model, opt, sched, n):
        for _ in range(n):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
            sched.step()

    model, opt, sched = make()
    train(model, opt, sched, 4)
    save({"model": model.state_dict(), "optimizer": opt.state_dict(),
          "scheduler": sched.state_dict(), "epoch": 4}, tmp_path / "run.pt")
    ckpt = load(tmp_path / "run.pt")
    model2, opt2, sched2 = make()
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    train(model, opt, sched, 5)
    train(model2, opt2, sched2, 5)
    for (name, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        assert a.dtype == b.dtype == np.float32, name
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    assert sched.get_last_lr() == sched2.get_last_lr()


def test_parameters_come_back_as_parameters(tmp_path):
    nn = getattr(fg, "nn", None)
    if nn is None or not hasattr(nn, "Parameter"):
        pytest.skip("funcgrad.nn.Parameter not available yet")
    p = nn.Parameter(Tensor(np.ones(3, np.float32)))
    save({"p": p}, tmp_path / "p.pt")
    back = load(tmp_path / "p.pt")["p"]
    assert isinstance(back, nn.Parameter) and back.requires_grad
    np.testing.assert_array_equal(back.data, p.data)
