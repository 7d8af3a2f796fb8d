"""``nn.Module``: PyTorch's module API, and the bridge to the functional transforms.

A Module registers the Parameters, buffers and submodules assigned to it as
attributes, and offers PyTorch's methods over them (``parameters()``,
``state_dict()``, ``train()``/``eval()``, ``to()``, hooks, ...).

Every Module class is also a *pytree node* (registered when the class is
defined): its leaves are the data of its parameters and floating-point
buffers, in ``named_parameters()`` then ``named_buffers()`` order, keyed by
their dotted names.  Unflattening builds a shallow copy of the module tree
whose parameters and buffers wrap the new leaves; everything else (layer
hyper-parameters, integer buffers such as ``num_batches_tracked``, hooks) is
shared (see :mod:`funcgrad.nn._pytree`).  So the functional transforms take
models directly::

    grads = funcgrad.grad(loss_fn)(model, x, y)      # a Module-shaped gradient
    ys = funcgrad.vmap(lambda x: model(x))(xs)

and :func:`functional_call` runs a model with other parameters.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple

import numpy as np

from ..core import Tracer
from ..tensor import Tensor, no_grad
from ._pytree import _register_module_pytree, functional_call
from .parameter import Parameter

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
_IncompatibleKeys.__doc__ = "What ``load_state_dict`` did not match: (missing_keys, unexpected_keys)."

_STATE = ("_parameters", "_buffers", "_non_persistent_buffers_set", "_modules",
          "_forward_pre_hooks", "_forward_hooks")
_handle_ids = itertools.count()


class RemovableHandle:
    """Returned by ``register_forward_hook`` & co.; ``handle.remove()`` unregisters."""

    def __init__(self, hooks, key):
        self._hooks = hooks
        self.id = key

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _addindent(s, n):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _shape_str(shape):
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def _to_backend_array(value, like):
    """A fresh backend array from a Tensor, array or CPU ``torch.Tensor``, cast like ``like``."""
    if isinstance(value, Tensor):
        value = value._data
    elif type(value).__module__.split(".")[0] == "torch":
        value = value.detach().cpu().numpy()
    if isinstance(value, Tracer):
        from ..prims.elementwise import convert
        return value if value.dtype == like.dtype else convert(value, like.dtype)
    from .. import backends
    xp = backends.namespace_of((like,))
    return xp.array(value, dtype=like.dtype, copy=True)


class Module:
    """Base class of every layer and model, with PyTorch's behaviour.

    Subclasses call ``super().__init__()`` first, assign Parameters,
    submodules and buffers (``register_buffer``) as attributes, and define
    ``forward``.  Calling the module runs the forward pre-hooks, ``forward``
    and the forward hooks.

    Examples:
        >>> import funcgrad as torch
        >>> class MLP(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = torch.nn.Linear(4, 2)
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
        >>> [name for name, _ in MLP().named_parameters()]
        ['fc.weight', 'fc.bias']
    """

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments; "
                            "Module.__init__ takes none (call super().__init__())")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _register_module_pytree(cls)

    # ------------------------------------------------------------------ #
    # Forward
    # ------------------------------------------------------------------ #
    def forward(self, *args, **kwargs):
        """Define the computation; call the module itself rather than this method."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if d["_forward_pre_hooks"] or d["_forward_hooks"]:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    def register_forward_pre_hook(self, hook):
        """``hook(module, args) -> None or new args``, run before ``forward``."""
        key = next(_handle_ids)
        self._forward_pre_hooks[key] = hook
        return RemovableHandle(self._forward_pre_hooks, key)

    def register_forward_hook(self, hook):
        """``hook(module, args, output) -> None or new output``, run after ``forward``."""
        key = next(_handle_ids)
        self._forward_hooks[key] = hook
        return RemovableHandle(self._forward_hooks, key)

    # ------------------------------------------------------------------ #
    # Registration
    # ------------------------------------------------------------------ #
    def _check_init(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 f"(call super().__init__() first in "
                                 f"{type(self).__name__}.__init__)")

    def _check_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        self._check_init("parameters")
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (torch.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a non-parameter Tensor (running statistics...) under ``name``.

        Persistent buffers are part of ``state_dict()``.
        """
        self._check_init("buffers")
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (torch Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Register a child module (or None) under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_init("module")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._remove_from(name, d, "_buffers", "_modules")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter "
                                f"'{name}' (torch.nn.Parameter or None expected)")
            params[name] = None
            return
        if isinstance(value, Module):
            self._check_init("module")
            self._remove_from(name, d, "_parameters", "_buffers")
            d["_modules"][name] = value
            return
        modules = d.get("_modules")
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (torch.nn.Module or None expected)")
            modules[name] = None
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(torch.Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    @staticmethod
    def _remove_from(name, d, *stores):
        d.pop(name, None)
        for s in stores:
            store = d.get(s)
            if store is not None:
                store.pop(name, None)
                if s == "_buffers":
                    d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        # Only called when normal lookup fails: parameters, buffers, submodules.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                del s[name]
                if store == "_buffers":
                    d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = set(object.__dir__(self))
        for store in ("_parameters", "_buffers", "_modules"):
            keys.update(self.__dict__.get(store, ()))
        return sorted(k for k in keys if not k[0].isdigit())

    def __setstate__(self, state):
        self.__dict__.update(state)

    # ------------------------------------------------------------------ #
    # Iteration
    # ------------------------------------------------------------------ #
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield ``(dotted_name, module)`` for this module and all below it (each once)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from m.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        """Every module in the tree, this one first."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """Yield ``(name, module)`` for the immediate children."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, v in m.__dict__[store].items():
                if v is None:
                    continue
                if remove_duplicate:
                    if id(v) in seen:
                        continue
                    seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted_name, Parameter)``; a shared parameter appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """Every parameter (each shared one once), in registration order."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted_name, Tensor)`` for every buffer."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        """The submodule at the dotted path ``target`` ("" is this module)."""
        mod = self
        if target == "":
            return mod
        for item in target.split("."):
            sub = mod._modules.get(item) if isinstance(mod, Module) else None
            if sub is None:
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = sub
        return mod

    def get_parameter(self, target):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{mod._get_name()} has no buffer `{name}`")
        return mod._buffers[name]

    # ------------------------------------------------------------------ #
    # Modes and gradients
    # ------------------------------------------------------------------ #
    def train(self, mode=True):
        """Set training mode (dropout active, batch statistics) on the whole tree."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` of every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the ``.grad`` of every parameter (to None, or to zeros)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = Tensor._wrap(p.grad._data * 0)

    # ------------------------------------------------------------------ #
    # Conversion
    # ------------------------------------------------------------------ #
    def apply(self, fn):
        """Call ``fn(m)`` on every submodule (children first) and on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn):
        """Replace the data of every parameter, gradient and buffer by ``fn(data)``.

        Parameters stay the same objects (optimizers keep their references).
        """
        for m in self.modules():
            for p in m._parameters.values():
                if p is None:
                    continue
                p._data = fn(p._data)
                if p.grad is not None:
                    p.grad = Tensor._wrap(fn(p.grad._data))
            for k, b in m._buffers.items():
                if b is not None:
                    b._data = fn(b._data)
        return self

    def to(self, *args, **kwargs):
        """Cast floating-point parameters and buffers to a dtype, and/or move them.

        Accepts ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(tensor)`` and the keywords ``device``/``dtype``.
        """
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
                device = _device_of(a)
            elif _is_dtype(a):
                dtype = a
            else:
                device = a
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind not in "fc":
                raise TypeError(f"nn.Module.to only accepts floating point or complex "
                                f"dtypes, but got desired dtype={dtype}")
        mover = _device_mover(device) if device is not None else None

        def convert(x):
            if dtype is not None and x.dtype.kind in "fc" and x.dtype != dtype:
                x = x.astype(dtype)
            if mover is not None:
                x = mover(x)
            return x
        return self._apply(convert)

    def float(self):
        """Cast floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self):
        """Cast floating-point parameters and buffers to float64."""
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def type(self, dst_type):
        return self._apply(lambda x: x.astype(dst_type))

    def share_memory(self):
        return self

    # ------------------------------------------------------------------ #
    # State dict
    # ------------------------------------------------------------------ #
    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of parameters and persistent buffers by dotted name.

        Values are detached Tensors sharing the data (``keep_vars=True`` gives
        the Parameters themselves).
        """
        if args:  # PyTorch's deprecated positional form: (destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        return destination

    def _local_state(self):
        state = OrderedDict((k, v) for k, v in self._parameters.items() if v is not None)
        state.update((k, v) for k, v in self._buffers.items()
                     if v is not None and k not in self._non_persistent_buffers_set)
        return state

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from ``state_dict`` into this module.

        Values may be Tensors, arrays (or CPU ``torch.Tensor``); they are copied
        and cast to each target's dtype.

        Returns:
          ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        Raises:
          RuntimeError: (PyTorch's message) with ``strict`` if keys are missing
            or unexpected, and always on a shape mismatch, naming the key and
            both shapes.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got "
                            f"{type(state_dict).__name__}.")
        missing, errors = [], []
        expected = set()
        for mod_prefix, m in self.named_modules(remove_duplicate=False):
            pre = mod_prefix + "." if mod_prefix else ""
            for name, target in m._local_state().items():
                key = pre + name
                expected.add(key)
                if key not in state_dict:
                    missing.append(key)
                    continue
                value = state_dict[key]
                vshape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
                if vshape != tuple(target.shape):
                    errors.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{_shape_str(vshape)} from checkpoint, the shape in "
                                  f"current model is {_shape_str(target.shape)}.")
                    continue
                if assign and isinstance(value, Tensor):
                    new = value if not isinstance(target, Parameter) or \
                        isinstance(value, Parameter) else Parameter(value, target.requires_grad)
                    store = m._parameters if name in m._parameters else m._buffers
                    store[name] = new
                    continue
                with no_grad():
                    target._assign(_to_backend_array(value, target._data))
        unexpected = [k for k in state_dict.keys() if k not in expected]
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                               + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ #
    # Printing
    # ------------------------------------------------------------------ #
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """Extra text shown inside ``Name(...)`` in the module's repr."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"


def _is_dtype(a):
    if isinstance(a, str):
        try:
            np.dtype(a)
        except TypeError:
            return False
        return True
    if isinstance(a, np.dtype) or (isinstance(a, type) and issubclass(a, np.generic)):
        return True
    return False


def _device_of(t):
    try:
        from ..device import device_of
    except ImportError:  # pragma: no cover - a build without device support
        return None
    return device_of(t)


def _device_mover(device):
    """A function moving an array to ``device`` (funcgrad.device.to_device)."""
    try:
        from ..device import to_device
    except ImportError:  # pragma: no cover - a build without device support
        if str(device) != "cpu":
            raise RuntimeError(f"Module.to: device {device!r} is not available (only 'cpu')")
        return None
    return lambda x: to_device(x, device)


_register_module_pytree(Module)

__all__ = ["Module", "functional_call", "RemovableHandle"]
