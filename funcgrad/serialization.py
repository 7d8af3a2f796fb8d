"""``funcgrad.save`` / ``funcgrad.load``: checkpoints that never unpickle.

A checkpoint is a NumPy ``.npz`` archive (a zip of ``.npy`` files, readable
with ``numpy.load(path, allow_pickle=False)``):

* ``a0.npy``, ``a1.npy``, ...: the arrays (Tensors' data and NumPy arrays);
* ``__funcgrad__.npy``: a ``uint8`` array holding a UTF-8 JSON manifest that
  describes the nesting (dicts, OrderedDicts, lists, tuples), the scalars
  (None, bool, int, float, str) and which leaves are Tensors (with their
  ``requires_grad``) and which plain arrays.

Loading reads only that JSON and raw ``.npy`` data, with ``allow_pickle=False``:
a file cannot make ``load`` run code.  Pickles (``torch.save`` output,
``pickle.dump``) are recognised and refused with a message that says how to
convert them.  Every member's CRC-32 is checked, so a corrupted file raises
:class:`CheckpointError` naming the path and the damage instead of loading
wrong numbers.

Saving is atomic: the archive is written to a temporary file in the target's
directory, flushed and fsync'ed, renamed over the target with ``os.replace``,
and the directory is fsync'ed.  A crash mid-save leaves the previous file whole.
"""
from __future__ import annotations

import collections
import io
import json
import math
import os
import uuid
import zipfile

import numpy as np

from .core import FuncgradError, Tracer
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

_MANIFEST = "__funcgrad__.npy"
_FORMAT = "funcgrad.checkpoint"
_VERSION = 1


class CheckpointError(FuncgradError, ValueError):
    """A file that ``funcgrad.load`` cannot (or will not) read: corrupted, truncated,
    not a funcgrad checkpoint, or a pickle."""


# --------------------------------------------------------------------------- #
# Encoding: Python object -> (JSON node, list of arrays)
# --------------------------------------------------------------------------- #
class _Encoder:
    def __init__(self):
        self.arrays = []
        self.memo = {}  # id(Tensor or array) -> node, so shared tensors stay shared

    def array_index(self, arr, where):
        if hasattr(arr, "get") and not isinstance(arr, np.ndarray):  # CuPy -> host
            arr = arr.get()
        arr = np.asarray(arr)
        if arr.dtype.kind in "OV" or arr.dtype.hasobject:
            raise TypeError(f"funcgrad.save: the array at {where} has dtype {arr.dtype}, "
                            "which cannot be stored without pickling; convert it to a "
                            "numeric, bool or string dtype")
        self.arrays.append(arr)
        return len(self.arrays) - 1

    def encode(self, obj, where="<root>"):
        if obj is None or isinstance(obj, (bool, str)):
            return obj if not isinstance(obj, str) else {"t": "str", "v": obj}
        if isinstance(obj, int) and not isinstance(obj, np.generic):
            return {"t": "int", "v": str(obj)}  # str: JSON readers may round big ints
        if isinstance(obj, float) and not isinstance(obj, np.generic):
            return {"t": "float", "v": obj if math.isfinite(obj) else repr(obj)}
        if isinstance(obj, complex):
            return {"t": "complex", "v": [repr(obj.real), repr(obj.imag)]}
        if isinstance(obj, Tensor):
            if isinstance(obj._data, Tracer):
                raise TypeError(f"funcgrad.save: the Tensor at {where} holds a traced value; "
                                "save concrete values (outside funcgrad.grad/vmap/jit)")
            if id(obj) in self.memo:
                return self.memo[id(obj)]
            node = {"t": "tensor", "i": self.array_index(obj._data, where),
                    "requires_grad": bool(obj.requires_grad)}
            if type(obj).__name__ == "Parameter":
                node["parameter"] = True
            self.memo[id(obj)] = node
            return node
        if isinstance(obj, Tracer):
            raise TypeError(f"funcgrad.save: the value at {where} is traced; save concrete "
                            "values (outside funcgrad.grad/vmap/jit)")
        if isinstance(obj, np.generic):
            return {"t": "npscalar", "i": self.array_index(np.asarray(obj), where)}
        if isinstance(obj, np.ndarray) or hasattr(obj, "__cuda_array_interface__"):
            if id(obj) in self.memo:
                return self.memo[id(obj)]
            node = {"t": "ndarray", "i": self.array_index(obj, where)}
            self.memo[id(obj)] = node
            return node
        if isinstance(obj, dict):
            kind = _DICT_KINDS.get(type(obj))
            if kind is None:
                raise TypeError(f"funcgrad.save: cannot store a {type(obj).__qualname__} at "
                                f"{where}; convert it to a dict")
            items = [[self.encode(k, f"{where} (a key)"), self.encode(v, f"{where}[{k!r}]")]
                     for k, v in obj.items()]
            return {"t": kind, "items": items}
        if isinstance(obj, (list, tuple)):
            if isinstance(obj, tuple) and type(obj) is not tuple:
                raise TypeError(f"funcgrad.save: cannot store a {type(obj).__qualname__} at "
                                f"{where}; convert it to a tuple or dict")
            if isinstance(obj, list) and type(obj) is not list:
                raise TypeError(f"funcgrad.save: cannot store a {type(obj).__qualname__} at "
                                f"{where}; convert it to a list")
            return {"t": "list" if isinstance(obj, list) else "tuple",
                    "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, (set, frozenset)):
            return {"t": type(obj).__name__,
                    "items": [self.encode(v, f"{where} (an element)") for v in obj]}
        raise TypeError(f"funcgrad.save: cannot store a {type(obj).__module__}."
                        f"{type(obj).__qualname__} at {where}: checkpoints hold nested "
                        "dicts/lists/tuples of Tensors, NumPy arrays, numbers, strings, "
                        "bools and None (state_dict() gives such a structure)")


_DICT_KINDS = {dict: "dict", collections.OrderedDict: "OrderedDict",
               collections.Counter: "Counter", collections.defaultdict: "dict"}


# --------------------------------------------------------------------------- #
# Decoding
# --------------------------------------------------------------------------- #
class _Decoder:
    def __init__(self, arrays, path):
        self.arrays = arrays
        self.path = path
        self.memo = {}

    def bad(self, what):
        return CheckpointError(f"funcgrad.load('{self.path}'): the manifest is invalid "
                               f"({what}); the file is corrupted or was not written by "
                               "funcgrad.save")

    def array(self, node):
        i = node.get("i")
        if not isinstance(i, int) or not 0 <= i < len(self.arrays):
            raise self.bad(f"array index {i!r} out of range")
        return self.arrays[i]

    def decode(self, node):
        if node is None or isinstance(node, bool):
            return node
        if not isinstance(node, dict) or "t" not in node:
            raise self.bad(f"unexpected entry {node!r:.60}")
        t = node["t"]
        if t == "str":
            return node["v"]
        if t == "int":
            return int(node["v"])
        if t == "float":
            return float(node["v"])
        if t == "complex":
            return complex(float(node["v"][0]), float(node["v"][1]))
        if t in ("tensor", "ndarray"):
            key = ("t" if t == "tensor" else "a", node.get("i"))
            if key not in self.memo:
                arr = self.array(node)
                self.memo[key] = _make_tensor(arr, node) if t == "tensor" else arr
            return self.memo[key]
        if t == "npscalar":
            return self.array(node)[()]
        if t in ("dict", "OrderedDict", "Counter"):
            cls = {"dict": dict, "OrderedDict": collections.OrderedDict,
                   "Counter": collections.Counter}[t]
            out = cls()
            for k, v in node["items"]:
                out[self.decode(k)] = self.decode(v)
            return out
        if t in ("list", "tuple", "set", "frozenset"):
            items = [self.decode(v) for v in node["items"]]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[t](items)
        raise self.bad(f"unknown entry type {t!r}")


def _make_tensor(arr, node):
    requires_grad = bool(node.get("requires_grad")) and arr.dtype.kind in "fc"
    if node.get("parameter"):
        try:
            from .nn import Parameter
            return Parameter(arr, requires_grad=requires_grad)
        except (ImportError, TypeError):
            pass
    return Tensor(arr, requires_grad=requires_grad)


# --------------------------------------------------------------------------- #
# save
# --------------------------------------------------------------------------- #
def _write_archive(fileobj, manifest, arrays):
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for i, arr in enumerate(arrays):
            with zf.open(f"a{i}.npy", "w", force_zip64=arr.nbytes > 2**30) as f:
                np.lib.format.write_array(f, arr, allow_pickle=False)
        data = np.frombuffer(json.dumps(manifest, allow_nan=False).encode("utf-8"), np.uint8)
        with zf.open(_MANIFEST, "w") as f:
            np.lib.format.write_array(f, data, allow_pickle=False)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Save a state dict (or any nesting of Tensors, arrays and plain values) to ``f``.

    Args:
      obj: e.g. ``model.state_dict()``, ``optimizer.state_dict()``, or a dict
        holding several of them plus numbers and strings.
      f: a path (str or ``os.PathLike``), written atomically; or a writable
        binary file object (written in place).
      pickle_module, pickle_protocol: accepted for PyTorch compatibility;
        must be None (funcgrad never pickles).

    Raises:
      TypeError: an object that cannot be stored without pickling (names
        where it sits in ``obj``).

    Examples:
        >>> import funcgrad, numpy as np, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
        >>> funcgrad.save({"w": funcgrad.tensor.Tensor(np.ones(2)), "epoch": 3}, path)
        >>> funcgrad.load(path)["epoch"]
        3
    """
    if pickle_module is not None or pickle_protocol is not None:
        raise TypeError("funcgrad.save never pickles: pickle_module/pickle_protocol must be "
                        "None")
    enc = _Encoder()
    manifest = {"format": _FORMAT, "version": _VERSION, "root": enc.encode(obj),
                "arrays": [[a.dtype.str, list(a.shape)] for a in enc.arrays]}
    if not isinstance(f, (str, os.PathLike)):
        _write_archive(f, manifest, enc.arrays)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    # mode 0o666 lets the umask decide the permissions, as for a plain open()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            _write_archive(out, manifest, enc.arrays)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


# --------------------------------------------------------------------------- #
# load
# --------------------------------------------------------------------------- #
_PICKLE_HINT = ("funcgrad.load never unpickles (unpickling can run arbitrary code). If this "
                "file comes from torch.save, convert it once in PyTorch, e.g. "
                "numpy.savez('weights.npz', **{k: v.numpy() for k, v in "
                "torch.load(path, weights_only=True).items()}), and load it with "
                "numpy.load(..., allow_pickle=False)")


def _is_cpu(loc):
    return str(getattr(loc, "type", loc)).split(":")[0] == "cpu"


def _check_map_location(map_location):
    # Callables (e.g. ``lambda storage, loc: storage``) keep data on the host: fine.
    if map_location is None or (callable(map_location) and not isinstance(map_location, str)):
        return
    locs = map_location.values() if isinstance(map_location, dict) else [map_location]
    if not all(_is_cpu(loc) for loc in locs):
        raise ValueError(f"funcgrad.load: map_location={map_location!r} is not supported; "
                         "checkpoints load to the CPU (map_location='cpu' or None): move "
                         "tensors to another device after loading")


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None,
         **pickle_load_args):
    """Load what :func:`save` wrote.  Never unpickles.

    Args:
      f: a path (str or ``os.PathLike``) or a readable binary file object.
      map_location: None or ``"cpu"`` (accepted for PyTorch compatibility).
      weights_only: accepted; loading is always weights-only (no code runs).
      pickle_module, mmap: accepted for compatibility (must be None).

    Returns:
      The saved object: dicts/OrderedDicts/lists/tuples with Tensors (their
      ``requires_grad`` restored), NumPy arrays and plain values.

    Raises:
      CheckpointError: the file is truncated or corrupted (names the path and
        the damage), is not a funcgrad checkpoint, or is a pickle (refused).
      FileNotFoundError: no such file.
    """
    if pickle_module is not None:
        raise TypeError("funcgrad.load never unpickles: pickle_module must be None")
    _check_map_location(map_location)
    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", repr(f))
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return _load_file(fh, name)
    if not (hasattr(f, "seekable") and f.seekable()):
        f = io.BytesIO(f.read())
    return _load_file(f, name)


def _load_file(fh, name):
    def fail(what):
        return CheckpointError(f"funcgrad.load('{name}'): {what}")

    start = fh.tell()
    head = fh.read(8)
    fh.seek(start)
    if head[:1] == b"\x80" or head[:1] in (b"(", b"]", b"}", b"c"):
        raise fail("this is a pickle file, not a funcgrad checkpoint. " + _PICKLE_HINT)
    if head[:4] != b"PK\x03\x04":
        if len(head) == 0:
            raise fail("the file is empty (a save interrupted before funcgrad's atomic "
                       "rename, or not a checkpoint)")
        raise fail("not a funcgrad checkpoint (it is not an .npz/zip archive; first bytes "
                   f"{head!r})")
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        size = fh.seek(0, os.SEEK_END) - start
        raise fail(f"the file is truncated or corrupted ({size} bytes; zip error: {e})"
                   ) from None
    with zf:
        names = zf.namelist()
        if _MANIFEST not in names:
            if any(n.endswith("data.pkl") for n in names):
                raise fail("this is a PyTorch checkpoint (a zip holding a pickle), not a "
                           "funcgrad checkpoint. " + _PICKLE_HINT)
            raise fail("not a funcgrad checkpoint: the archive has no "
                       f"'{_MANIFEST}' manifest (members: {names[:5]})")
        try:
            manifest = json.loads(_read_member(zf, _MANIFEST, name).tobytes().decode("utf-8"))
        except CheckpointError:
            raise
        except Exception as e:  # noqa: BLE001 - any damage here is the file's
            raise fail(f"the manifest is corrupted ({type(e).__name__}: {e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            raise fail("the manifest is not a funcgrad checkpoint manifest")
        if manifest.get("version") != _VERSION:
            raise fail(f"checkpoint format version {manifest.get('version')!r} is not "
                       f"supported by this funcgrad (it reads version {_VERSION}); "
                       "upgrade funcgrad")
        specs = manifest.get("arrays", [])
        arrays = []
        for i, (dtype, shape) in enumerate(specs):
            member = f"a{i}.npy"
            if member not in names:
                raise fail(f"array member '{member}' is missing (truncated or corrupted)")
            arr = _read_member(zf, member, name)
            if arr.dtype.str != dtype or list(arr.shape) != list(shape):
                raise fail(f"array '{member}' has dtype {arr.dtype.str} and shape "
                           f"{arr.shape}, but the manifest says {dtype} {tuple(shape)} "
                           "(corrupted)")
            arrays.append(arr)
    try:
        return _Decoder(arrays, name).decode(manifest["root"])
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001
        raise fail(f"the manifest is invalid ({type(e).__name__}: {e}); the file is "
                   "corrupted or was not written by funcgrad.save") from None


def _read_member(zf, member, name):
    try:
        data = zf.read(member)  # reads the whole member, so its CRC-32 is checked
        return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - bad CRC, bad header, truncated data...
        raise CheckpointError(f"funcgrad.load('{name}'): member '{member}' "
                              f"is corrupted ({type(e).__name__}: {e})") from None
