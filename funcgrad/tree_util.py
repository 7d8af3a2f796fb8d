"""Utilities for working with *pytrees*: nested containers of arrays.

A **pytree** is any Python value built from *pytree nodes* whose ends are
*leaves*.  The transforms in funcgrad (``grad``, ``vjp``, ``vmap``, ``jit``,
...) accept and return pytrees, so a function may take a dict of parameters
or a tuple of arrays instead of a single array.

Node types that are understood out of the box:

* ``tuple`` and ``list`` -- children are the elements, in order.
* ``dict`` -- children are the values, ordered by **sorted** key (as in
  JAX).  If the keys cannot be sorted, insertion order is used instead.
* ``collections.OrderedDict`` -- children in insertion order.
* ``collections.defaultdict`` -- like ``dict``; the ``default_factory`` is
  kept as part of the structure.
* named tuples (any ``tuple`` subclass with a ``_fields`` attribute) --
  children are the fields, in order.
* ``None`` -- a node with *no children*.  ``None`` is therefore **not** a
  leaf: ``tree_leaves([None, 1]) == [1]``.
* dataclass instances -- children are the fields in declaration order.
  Fields declared with ``field(metadata={"static": True})`` are not children
  but part of the (hashable) structure, like JAX's "meta" fields.

Anything else (NumPy arrays, Python scalars, strings, arbitrary objects) is
a **leaf**.  More node types can be added with :func:`register_pytree_node`,
:func:`register_pytree_with_keys`, :func:`register_pytree_node_class` or
:func:`register_dataclass`.

Flattening a pytree gives a list of its leaves (depth first, left to right)
and a :class:`PyTreeDef` describing everything else.  A ``PyTreeDef`` is
immutable and hashable, so it can be used as part of a compilation cache key::

    >>> leaves, treedef = tree_flatten({"b": (1, 2), "a": 3})
    >>> leaves
    [3, 1, 2]
    >>> treedef
    PyTreeDef({'a': *, 'b': (*, *)})
    >>> tree_unflatten(treedef, [10, 20, 30])
    {'a': 10, 'b': (20, 30)}

Key paths (``tree_flatten_with_path``, ``tree_map_with_path``, ``keystr``)
describe where each leaf lives, e.g. ``['params'][0].weight``.

Dataclass nodes that were not explicitly registered are rebuilt *without*
calling ``__init__``/``__post_init__`` (every field is restored with
``object.__setattr__``), so rebuilding works for frozen dataclasses and
for leaves that are placeholders or tracers.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable, Hashable, Iterable
from typing import Any

__all__ = [
    "PyTreeDef",
    "SequenceKey",
    "DictKey",
    "GetAttrKey",
    "FlattenedIndexKey",
    "register_pytree_node",
    "register_pytree_with_keys",
    "register_pytree_node_class",
    "register_dataclass",
    "tree_flatten",
    "tree_unflatten",
    "tree_leaves",
    "tree_structure",
    "tree_map",
    "tree_flatten_with_path",
    "tree_leaves_with_path",
    "tree_map_with_path",
    "tree_all",
    "tree_reduce",
    "tree_transpose",
    "treedef_is_leaf",
    "treedef_children",
    "treedef_tuple",
    "all_leaves",
    "broadcast_prefix",
    "keystr",
]

_MISSING = object()
_NoneType = type(None)
_OrderedDict = collections.OrderedDict
_defaultdict = collections.defaultdict

# ---------------------------------------------------------------------------
# Internal structure representation
#
# A tree structure ("spec") is stored as nested plain tuples, which are cheap
# to build and get structural ``==``/``hash`` for free:
#
#   leaf  -> None
#   node  -> (node_type, aux_data, (child_spec, ...))
#
# ``PyTreeDef`` wraps a spec together with its leaf count.
# ---------------------------------------------------------------------------

_LEAF = None


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SequenceKey:
    """Key of a child of a sequence node (tuple, list): ``[idx]``.

    Examples:
      >>> str(SequenceKey(0))
      '[0]'
    """

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


@dataclasses.dataclass(frozen=True)
class DictKey:
    """Key of a child of a mapping node (dict, OrderedDict): ``[key]``.

    Examples:
      >>> str(DictKey("a"))
      "['a']"
    """

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True)
class GetAttrKey:
    """Key of an attribute child (namedtuple field, dataclass field): ``.name``.

    Examples:
      >>> str(GetAttrKey("weight"))
      '.weight'
    """

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True)
class FlattenedIndexKey:
    """Key of the ``idx``-th child of a custom node registered without keys.

    Examples:
      >>> str(FlattenedIndexKey(1))
      '[<flat index 1>]'
    """

    key: int

    @property
    def idx(self) -> int:
        return self.key

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


KeyEntry = Any
KeyPath = tuple


def keystr(keys: Iterable[KeyEntry], *, simple: bool = False, separator: str = "") -> str:
    """Format a key path as a readable string.

    Args:
      keys: A key path, i.e. a tuple of key entries (``SequenceKey``,
        ``DictKey``, ``GetAttrKey``, ``FlattenedIndexKey`` or any object with
        a useful ``str``) as produced by :func:`tree_flatten_with_path`.
      simple: If True, use the bare key values (``0``, ``params``,
        ``weight``) instead of the bracketed/dotted forms.
      separator: String placed between entries (most useful with
        ``simple=True``).

    Returns:
      A string such as ``"['params'][0].weight"``.

    Examples:
      >>> keystr((DictKey("params"), SequenceKey(0), GetAttrKey("weight")))
      "['params'][0].weight"
      >>> keystr((DictKey("params"), SequenceKey(0)), simple=True, separator="/")
      'params/0'
    """
    if simple:
        return separator.join(_simple_key_str(k) for k in keys)
    return separator.join(str(k) for k in keys)


def _simple_key_str(k: Any) -> str:
    if isinstance(k, SequenceKey):
        return str(k.idx)
    if isinstance(k, DictKey):
        return str(k.key)
    if isinstance(k, GetAttrKey):
        return k.name
    if isinstance(k, FlattenedIndexKey):
        return str(k.key)
    return str(k)


# ---------------------------------------------------------------------------
# Node handlers and the registry
# ---------------------------------------------------------------------------


class _NodeDef:
    """How to flatten / rebuild one node type (internal)."""

    __slots__ = ("type", "flatten", "unflatten", "flatten_with_keys", "keys", "repr")

    def __init__(self, type_, flatten, unflatten, flatten_with_keys, keys, repr_):
        self.type = type_
        # flatten(obj) -> (children sequence, aux)
        self.flatten = flatten
        # unflatten(aux, children list) -> obj
        self.unflatten = unflatten
        # flatten_with_keys(obj) -> (list of (key, child), aux)
        self.flatten_with_keys = flatten_with_keys
        # keys(aux, obj_or_None, nchildren) -> list of keys (for error messages
        # and for paths derived from a treedef alone)
        self.keys = keys
        # repr(type, aux, child_reprs) -> str
        self.repr = repr_


# Explicit registrations (builtins included).  Only ever mutated by the
# register_* functions.
_registry: dict[type, _NodeDef] = {}
# Resolved lookups: type -> _NodeDef, or None for leaf types.  Filled lazily
# (this is where namedtuple and dataclass types are discovered) and cleared
# whenever the registry changes.
_type_cache: dict[type, _NodeDef | None] = {}
_TYPE_CACHE_MAX = 4096


def _resolve(t: type) -> _NodeDef | None:
    """Slow path of the type lookup; caches its answer."""
    nd = _registry.get(t)
    if nd is None:
        if issubclass(t, tuple) and hasattr(t, "_fields"):
            nd = _make_namedtuple_nodedef(t)
        elif dataclasses.is_dataclass(t):
            nd = _make_auto_dataclass_nodedef(t)
    if len(_type_cache) >= _TYPE_CACHE_MAX:
        _type_cache.clear()
    _type_cache[t] = nd
    return nd


def _lookup(t: type) -> _NodeDef | None:
    nd = _type_cache.get(t, _MISSING)
    if nd is _MISSING:
        nd = _resolve(t)
    return nd


def _seq_keys(aux, obj, n):
    return [SequenceKey(i) for i in range(n)]


def _flat_keys(aux, obj, n):
    return [FlattenedIndexKey(i) for i in range(n)]


def _children_repr(child_reprs):
    return ", ".join(child_reprs)


def _register(nodetype, nd: _NodeDef) -> None:
    if not isinstance(nodetype, type):
        raise TypeError(f"Expected a type to register as a pytree node, got {nodetype!r}.")
    if nodetype in _registry:
        raise ValueError(
            f"Duplicate pytree node registration for type {nodetype!r}: "
            f"{nodetype.__qualname__} is already registered as a pytree node."
        )
    _registry[nodetype] = nd
    _type_cache.clear()
    _leaf_types.clear()


def _custom_repr(t, aux, child_reprs):
    return f"CustomNode({t.__name__}[{aux!r}], [{_children_repr(child_reprs)}])"


def register_pytree_node(
    nodetype: type,
    flatten_func: Callable[[Any], tuple[Iterable[Any], Hashable]],
    unflatten_func: Callable[[Hashable, Iterable[Any]], Any],
    flatten_with_keys_func: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Hashable]] | None = None,
) -> None:
    """Register a type as a pytree node (so its instances are not leaves).

    Args:
      nodetype: The class to register.  Only exact instances of this class
        are affected (subclasses must be registered separately).
      flatten_func: ``flatten_func(obj) -> (children, aux_data)``.
        ``children`` is an iterable of the node's children (each of which is
        itself a pytree); ``aux_data`` is any hashable, comparable value
        needed to rebuild the node.  It becomes part of the ``PyTreeDef``,
        so it takes part in equality and hashing.
      unflatten_func: ``unflatten_func(aux_data, children) -> obj``.
      flatten_with_keys_func: Optional; like ``flatten_func`` but returns
        ``((key, child), ...)`` pairs.  Without it, paths to the children of
        this node use :class:`FlattenedIndexKey`.

    Raises:
      ValueError: If ``nodetype`` is already registered.
      TypeError: If ``nodetype`` is not a type.

    Examples:
      >>> class Pair:
      ...     def __init__(self, a, b): self.a, self.b = a, b
      >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None),
      ...                      lambda aux, ch: Pair(*ch))
      >>> tree_leaves(Pair(1, (2, 3)))
      [1, 2, 3]
    """
    if flatten_with_keys_func is None:

        def fwk(obj, _f=flatten_func):
            children, aux = _f(obj)
            return [(FlattenedIndexKey(i), c) for i, c in enumerate(children)], aux

        keys = _flat_keys
    else:
        fwk = flatten_with_keys_func

        def keys(aux, obj, n, _fwk=flatten_with_keys_func):
            if obj is None:
                return _flat_keys(aux, obj, n)
            return [k for k, _ in _fwk(obj)[0]]

    _register(nodetype, _NodeDef(nodetype, flatten_func, unflatten_func, fwk, keys, _custom_repr))


def register_pytree_with_keys(
    nodetype: type,
    flatten_with_keys: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Hashable]],
    unflatten_func: Callable[[Hashable, Iterable[Any]], Any],
    flatten_func: Callable[[Any], tuple[Iterable[Any], Hashable]] | None = None,
) -> None:
    """Register a pytree node type whose children have named keys.

    Args:
      nodetype: The class to register.
      flatten_with_keys: ``f(obj) -> (((key, child), ...), aux_data)``.  The
        keys appear in paths from :func:`tree_flatten_with_path`; use
        :class:`GetAttrKey`, :class:`DictKey` or :class:`SequenceKey` (or any
        object with a readable ``str``).
      unflatten_func: ``unflatten_func(aux_data, children) -> obj``.
      flatten_func: Optional faster flatten without keys,
        ``f(obj) -> (children, aux_data)``; derived from
        ``flatten_with_keys`` when omitted.

    Raises:
      ValueError: If ``nodetype`` is already registered.

    Examples:
      >>> class Point:
      ...     def __init__(self, x, y): self.x, self.y = x, y
      >>> register_pytree_with_keys(
      ...     Point,
      ...     lambda p: (((GetAttrKey("x"), p.x), (GetAttrKey("y"), p.y)), None),
      ...     lambda aux, ch: Point(*ch))
      >>> [keystr(p) for p, _ in tree_leaves_with_path(Point(1, 2))]
      ['.x', '.y']
    """
    if flatten_func is None:

        def flatten_func(obj, _fwk=flatten_with_keys):
            pairs, aux = _fwk(obj)
            return [c for _, c in pairs], aux

    register_pytree_node(nodetype, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_node_class(cls: type) -> type:
    """Class decorator registering a class that knows how to flatten itself.

    The class must define ``tree_flatten(self) -> (children, aux_data)`` and a
    classmethod ``tree_unflatten(cls, aux_data, children) -> instance``.  If
    it also defines ``tree_flatten_with_keys(self)`` (returning
    ``(((key, child), ...), aux_data)``), that is used for key paths.

    Args:
      cls: The class to register.

    Returns:
      ``cls`` itself, so this can be used as a decorator.

    Raises:
      ValueError: If ``cls`` is already registered.
      TypeError: If ``cls`` lacks ``tree_flatten`` or ``tree_unflatten``.

    Examples:
      >>> @register_pytree_node_class
      ... class Box:
      ...     def __init__(self, v): self.v = v
      ...     def tree_flatten(self): return (self.v,), None
      ...     @classmethod
      ...     def tree_unflatten(cls, aux, children): return cls(*children)
      >>> tree_map(lambda x: x * 2, Box(3)).v
      6
    """
    if cls in _registry:
        _register(cls, None)  # raises the duplicate-registration ValueError
    if not hasattr(cls, "tree_flatten") or not hasattr(cls, "tree_unflatten"):
        raise TypeError(
            f"register_pytree_node_class: {cls!r} must define tree_flatten(self) and "
            f"classmethod tree_unflatten(cls, aux_data, children)."
        )
    fwk = getattr(cls, "tree_flatten_with_keys", None)
    register_pytree_node(
        cls,
        lambda obj: obj.tree_flatten(),
        cls.tree_unflatten,
        (lambda obj: obj.tree_flatten_with_keys()) if fwk is not None else None,
    )
    return cls


def register_dataclass(
    nodetype: type,
    data_fields: Iterable[str] | None = None,
    meta_fields: Iterable[str] | None = None,
    drop_fields: Iterable[str] = (),
) -> type:
    """Register a class (usually a dataclass) as a node with named fields.

    ``data_fields`` become children (they hold arrays); ``meta_fields`` become
    static aux data (they must be hashable and are compared when treedefs are
    compared).  Unflattening calls ``nodetype(**fields)``, as in JAX.

    Unregistered dataclass instances are pytree nodes anyway (see the module
    docstring); registering explicitly is needed for non-dataclass classes,
    to choose the data/meta split without field metadata, or to rebuild
    through the constructor.

    Args:
      nodetype: The class to register.
      data_fields: Names of the child fields, in order.  If both this and
        ``meta_fields`` are None and ``nodetype`` is a dataclass, they are
        inferred: fields with ``metadata={"static": True}`` are meta fields,
        the rest are data fields.
      meta_fields: Names of the static fields.
      drop_fields: For dataclasses, ``init=False``-style fields that should
        be ignored entirely.

    Returns:
      ``nodetype``, so this can be used as a decorator (with inferred fields).

    Raises:
      ValueError: If ``nodetype`` is already registered, if only one of
        ``data_fields``/``meta_fields`` is given for a non-dataclass, or if
        the given fields do not match the dataclass's fields.

    Examples:
      >>> @dataclasses.dataclass
      ... class Layer:
      ...     w: Any
      ...     name: str
      >>> _ = register_dataclass(Layer, data_fields=["w"], meta_fields=["name"])
      >>> tree_leaves(Layer(w=1.0, name="dense"))
      [1.0]
    """
    drop = tuple(drop_fields)
    if data_fields is None and meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise ValueError(
                f"register_dataclass: data_fields and meta_fields must be given for "
                f"non-dataclass type {nodetype!r}."
            )
        fs = [f for f in dataclasses.fields(nodetype) if f.name not in drop]
        data = tuple(f.name for f in fs if not f.metadata.get("static", False))
        meta = tuple(f.name for f in fs if f.metadata.get("static", False))
    else:
        if data_fields is None or meta_fields is None:
            raise ValueError("register_dataclass: give both data_fields and meta_fields, or neither.")
        data = tuple(data_fields)
        meta = tuple(meta_fields)
        overlap = set(data) & set(meta)
        if overlap:
            raise ValueError(
                f"register_dataclass: fields {sorted(overlap)} are listed as both data and meta fields."
            )
        if dataclasses.is_dataclass(nodetype):
            init_names = {f.name for f in dataclasses.fields(nodetype) if f.init}
            given = set(data) | set(meta) | set(drop)
            if given != init_names:
                raise ValueError(
                    f"register_dataclass: data_fields + meta_fields + drop_fields of "
                    f"{nodetype.__qualname__} must equal its init fields {sorted(init_names)}; "
                    f"got {sorted(given)}."
                )

    def flatten(obj, _d=data, _m=meta):
        return [getattr(obj, n) for n in _d], tuple([getattr(obj, n) for n in _m])

    def unflatten(aux, children, _d=data, _m=meta, _t=nodetype):
        kw = dict(zip(_m, aux))
        kw.update(zip(_d, children))
        return _t(**kw)

    def fwk(obj, _d=data, _m=meta):
        return [(GetAttrKey(n), getattr(obj, n)) for n in _d], tuple([getattr(obj, n) for n in _m])

    def keys(aux, obj, n, _d=data):
        return [GetAttrKey(name) for name in _d]

    def repr_(t, aux, child_reprs, _d=data, _m=meta):
        parts = [f"{k}={r}" for k, r in zip(_d, child_reprs)]
        parts += [f"{k}={v!r}" for k, v in zip(_m, aux)]
        return f"{t.__name__}({', '.join(parts)})"

    _register(nodetype, _NodeDef(nodetype, flatten, unflatten, fwk, keys, repr_))
    return nodetype


# --- builtin node types ------------------------------------------------------


def _tuple_flatten(x):
    return x, None


def _tuple_unflatten(aux, children):
    return tuple(children)


def _tuple_fwk(x):
    return [(SequenceKey(i), c) for i, c in enumerate(x)], None


def _tuple_repr(t, aux, r):
    if len(r) == 1:
        return f"({r[0]},)"
    return f"({_children_repr(r)})"


def _list_flatten(x):
    return x, None


def _list_unflatten(aux, children):
    return list(children)


def _list_repr(t, aux, r):
    return f"[{_children_repr(r)}]"


def _dict_keys(d):
    try:
        return tuple(sorted(d))
    except TypeError:
        return tuple(d)


def _dict_flatten(d):
    keys = _dict_keys(d)
    return [d[k] for k in keys], keys


def _dict_unflatten(keys, children):
    return dict(zip(keys, children))


def _dict_fwk(d):
    keys = _dict_keys(d)
    return [(DictKey(k), d[k]) for k in keys], keys


def _mapping_keys(aux, obj, n):
    return [DictKey(k) for k in aux]


def _mapping_body(keys, r):
    return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(keys, r)) + "}"


def _dict_repr(t, aux, r):
    return _mapping_body(aux, r)


def _odict_flatten(d):
    keys = tuple(d)
    return [d[k] for k in keys], keys


def _odict_unflatten(keys, children):
    return _OrderedDict(zip(keys, children))


def _odict_fwk(d):
    keys = tuple(d)
    return [(DictKey(k), d[k]) for k in keys], keys


def _odict_repr(t, aux, r):
    return f"OrderedDict({_mapping_body(aux, r)})"


def _ddict_flatten(d):
    keys = _dict_keys(d)
    return [d[k] for k in keys], (d.default_factory, keys)


def _ddict_unflatten(aux, children):
    factory, keys = aux
    return _defaultdict(factory, zip(keys, children))


def _ddict_fwk(d):
    keys = _dict_keys(d)
    return [(DictKey(k), d[k]) for k in keys], (d.default_factory, keys)


def _ddict_keys(aux, obj, n):
    return [DictKey(k) for k in aux[1]]


def _ddict_repr(t, aux, r):
    return f"defaultdict({aux[0]!r}, {_mapping_body(aux[1], r)})"


def _none_flatten(x):
    return (), None


def _none_unflatten(aux, children):
    return None


def _none_fwk(x):
    return [], None


def _none_repr(t, aux, r):
    return "None"


_registry[tuple] = _NodeDef(tuple, _tuple_flatten, _tuple_unflatten, _tuple_fwk, _seq_keys, _tuple_repr)
_registry[list] = _NodeDef(list, _list_flatten, _list_unflatten, _tuple_fwk, _seq_keys, _list_repr)
_registry[dict] = _NodeDef(dict, _dict_flatten, _dict_unflatten, _dict_fwk, _mapping_keys, _dict_repr)
_registry[_OrderedDict] = _NodeDef(
    _OrderedDict, _odict_flatten, _odict_unflatten, _odict_fwk, _mapping_keys, _odict_repr
)
_registry[_defaultdict] = _NodeDef(
    _defaultdict, _ddict_flatten, _ddict_unflatten, _ddict_fwk, _ddict_keys, _ddict_repr
)
_registry[_NoneType] = _NodeDef(_NoneType, _none_flatten, _none_unflatten, _none_fwk, _seq_keys, _none_repr)

# Types for which the mapping-style (match by key) prefix logic applies.
_MAPPING_TYPES = (dict, _OrderedDict, _defaultdict)


# --- automatically recognised node types -------------------------------------


def _make_namedtuple_nodedef(t: type) -> _NodeDef:
    fields = tuple(t._fields)

    def unflatten(aux, children, _t=t):
        return _t(*children)

    def fwk(obj, _f=fields):
        return [(GetAttrKey(n), c) for n, c in zip(_f, obj)], None

    def keys(aux, obj, n, _f=fields):
        return [GetAttrKey(name) for name in _f]

    def repr_(tt, aux, r, _f=fields):
        return f"{tt.__name__}({', '.join(f'{k}={c}' for k, c in zip(_f, r))})"

    return _NodeDef(t, _tuple_flatten, unflatten, fwk, keys, repr_)


def _make_auto_dataclass_nodedef(t: type) -> _NodeDef:
    fs = dataclasses.fields(t)
    data = tuple(f.name for f in fs if not f.metadata.get("static", False))
    meta = tuple(f.name for f in fs if f.metadata.get("static", False))
    setter = object.__setattr__

    def flatten(obj, _d=data, _m=meta):
        return [getattr(obj, n) for n in _d], tuple([getattr(obj, n) for n in _m])

    def unflatten(aux, children, _d=data, _m=meta, _t=t):
        obj = _t.__new__(_t)
        for n, v in zip(_d, children):
            setter(obj, n, v)
        for n, v in zip(_m, aux):
            setter(obj, n, v)
        return obj

    def fwk(obj, _d=data, _m=meta):
        return [(GetAttrKey(n), getattr(obj, n)) for n in _d], tuple([getattr(obj, n) for n in _m])

    def keys(aux, obj, n, _d=data):
        return [GetAttrKey(name) for name in _d]

    def repr_(tt, aux, r, _d=data, _m=meta):
        parts = [f"{k}={c}" for k, c in zip(_d, r)]
        parts += [f"{k}={v!r}" for k, v in zip(_m, aux)]
        return f"{tt.__name__}({', '.join(parts)})"

    return _NodeDef(t, flatten, unflatten, fwk, keys, repr_)


# ---------------------------------------------------------------------------
# PyTreeDef
# ---------------------------------------------------------------------------


def _spec_num_leaves(spec) -> int:
    if spec is _LEAF:
        return 1
    return sum([_spec_num_leaves(c) for c in spec[2]])


def _spec_num_nodes(spec) -> int:
    if spec is _LEAF:
        return 1
    return 1 + sum([_spec_num_nodes(c) for c in spec[2]])


def _spec_repr(spec) -> str:
    if spec is _LEAF:
        return "*"
    t, aux, children = spec
    child_reprs = [_spec_repr(c) for c in children]
    nd = _lookup(t)
    if nd is None:  # type was unregistered?  (cannot happen; be defensive)
        return _custom_repr(t, aux, child_reprs)
    return nd.repr(t, aux, child_reprs)


class PyTreeDef:
    """The structure of a pytree: everything except its leaves.

    Instances are immutable and hashable; two treedefs are equal when they
    have the same node types, the same aux data (dict keys, static fields,
    custom aux) and the same child structure.  Build them with
    :func:`tree_flatten` / :func:`tree_structure`, not directly.

    Examples:
      >>> td = tree_structure({"a": 1, "b": (2, 3)})
      >>> td
      PyTreeDef({'a': *, 'b': (*, *)})
      >>> td.num_leaves, td.num_nodes
      (3, 5)
      >>> td.unflatten(["x", "y", "z"])
      {'a': 'x', 'b': ('y', 'z')}
    """

    __slots__ = ("_spec", "_num_leaves", "_hash")

    def __init__(self, *args, **kwargs):
        raise TypeError("PyTreeDef cannot be constructed directly; use tree_structure or tree_flatten.")

    def __setattr__(self, name, value):
        raise AttributeError("PyTreeDef is immutable.")

    def __delattr__(self, name):
        raise AttributeError("PyTreeDef is immutable.")

    # -- basic properties -----------------------------------------------------

    @property
    def num_leaves(self) -> int:
        """Number of leaves in the structure."""
        return self._num_leaves

    @property
    def num_nodes(self) -> int:
        """Number of nodes in the structure, counting leaves (``*``) and ``None``."""
        return _spec_num_nodes(self._spec)

    def children(self) -> list[PyTreeDef]:
        """Treedefs of the immediate children of the root node.

        Returns:
          A list of ``PyTreeDef`` (empty for a leaf or ``None``).

        Examples:
          >>> tree_structure((1, [2, 3])).children()
          [PyTreeDef(*), PyTreeDef([*, *])]
        """
        if self._spec is _LEAF:
            return []
        return [_make_treedef(c, _spec_num_leaves(c)) for c in self._spec[2]]

    def node_data(self):
        """Return ``(node_type, aux_data)`` of the root node, or None for a leaf.

        Returns:
          ``(type, aux_data)``; ``aux_data`` is e.g. the sorted key tuple of a
          dict, the static field values of a dataclass, or the aux data a
          custom node's flatten function returned.

        Examples:
          >>> tree_structure({"b": 1, "a": 2}).node_data()
          (<class 'dict'>, ('a', 'b'))
        """
        if self._spec is _LEAF:
            return None
        return self._spec[0], self._spec[1]

    # -- flatten / unflatten ----------------------------------------------------

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Build a pytree with this structure from a sequence of leaves.

        Args:
          leaves: Iterable of exactly ``num_leaves`` values.

        Returns:
          The rebuilt pytree.

        Raises:
          ValueError: If the number of leaves is wrong.

        Examples:
          >>> tree_structure((0, {"k": 0})).unflatten([1, 2])
          (1, {'k': 2})
        """
        if not isinstance(leaves, (list, tuple)):
            leaves = list(leaves)
        if len(leaves) != self._num_leaves:
            raise ValueError(
                f"Tree structure {self!r} expects {self._num_leaves} leaves, "
                f"but {len(leaves)} leaves were given."
            )
        spec = self._spec
        if spec is _LEAF:
            return leaves[0]
        t = spec[0]
        if t is tuple and not any(spec[2]):
            # Hot path: a flat tuple of leaves (child specs are all None).
            return tuple(leaves)
        return _unflatten(spec, iter(leaves))

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """Flatten ``tree`` only as far as this treedef's structure goes.

        This treedef must be a *prefix* of ``tree``'s structure: every node
        here must match a node of the same type (and same keys / aux data) in
        ``tree``; at each leaf position of this treedef the whole
        corresponding subtree of ``tree`` is returned.  This is how "pytree
        prefix" arguments (such as ``vmap``'s ``in_axes``) are matched up with
        the actual arguments.

        Args:
          tree: A pytree whose structure has this treedef as a prefix.

        Returns:
          A list of ``num_leaves`` subtrees of ``tree``.

        Raises:
          ValueError: If ``tree`` does not have this structure as a prefix;
            the message names the first mismatching path and shows the
            expected and actual structures.

        Examples:
          >>> tree_structure((0, 0)).flatten_up_to(([1, 2], {"a": 3}))
          [[1, 2], {'a': 3}]
        """
        out: list[Any] = []
        spec = self._spec
        if spec is _LEAF:
            out.append(tree)
            return out
        try:
            _flatten_up_to(spec, tree, out)
        except _PrefixMismatch as e:
            path = tuple(reversed(e.path))
            where = keystr(path) if path else "<root>"
            try:
                got = repr(tree_structure(tree))
            except Exception:  # pragma: no cover - very defensive
                got = f"<unflattenable {type(tree).__name__}>"
            raise ValueError(
                f"Tree structure mismatch at {where}: {e.detail}.\n"
                f"  expected (prefix) structure: {self!r}\n"
                f"  got structure:               {got}"
            ) from None
        return out

    # -- comparison / hashing -------------------------------------------------

    def __eq__(self, other):
        if self is other:
            return True
        if type(other) is not PyTreeDef:
            return NotImplemented
        return self._num_leaves == other._num_leaves and self._spec == other._spec

    def __ne__(self, other):
        r = self.__eq__(other)
        if r is NotImplemented:
            return r
        return not r

    def __hash__(self):
        h = self._hash
        if h is None:
            try:
                h = hash(self._spec)
            except TypeError as e:
                raise TypeError(
                    f"PyTreeDef {self!r} is not hashable because some node's aux data "
                    f"(dict keys, static fields or custom aux data) is unhashable: {e}"
                ) from None
            _set_hash(self, h)
        return h

    def __repr__(self):
        return f"PyTreeDef({_spec_repr(self._spec)})"

    def __reduce__(self):
        return (_make_treedef, (self._spec, self._num_leaves))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


_new_obj = object.__new__
_set_spec = PyTreeDef.__dict__["_spec"].__set__
_set_num_leaves = PyTreeDef.__dict__["_num_leaves"].__set__
_set_hash = PyTreeDef.__dict__["_hash"].__set__


def _make_treedef(spec, num_leaves: int) -> PyTreeDef:
    td = _new_obj(PyTreeDef)
    _set_spec(td, spec)
    _set_num_leaves(td, num_leaves)
    _set_hash(td, None)
    return td


_LEAF_TREEDEF = _make_treedef(_LEAF, 1)


# ---------------------------------------------------------------------------
# Flatten / unflatten core
# ---------------------------------------------------------------------------

# Types known to be leaves.  A plain dict lookup on the hot path; filled as
# leaf types are met, cleared when the registry changes.
_leaf_types: set[type] = set()


def _is_leaf_type(t: type) -> bool:
    if t in _leaf_types:
        return True
    if _lookup(t) is None:
        if len(_leaf_types) >= _TYPE_CACHE_MAX:
            _leaf_types.clear()
        _leaf_types.add(t)
        return True
    return False


def _flatten_plain(node, leaves):
    """Flatten without ``is_leaf``; returns the spec (hot path)."""
    t = type(node)
    if t is tuple or t is list:
        specs = []
        for c in node:
            if type(c) in _leaf_types:
                leaves.append(c)
                specs.append(None)
            else:
                specs.append(_flatten_plain(c, leaves))
        return (t, None, tuple(specs))
    if t is dict:
        try:
            keys = tuple(sorted(node))
        except TypeError:
            keys = tuple(node)
        specs = []
        for k in keys:
            c = node[k]
            if type(c) in _leaf_types:
                leaves.append(c)
                specs.append(None)
            else:
                specs.append(_flatten_plain(c, leaves))
        return (dict, keys, tuple(specs))
    if t in _leaf_types:
        leaves.append(node)
        return None
    nd = _type_cache.get(t, _MISSING)
    if nd is _MISSING:
        nd = _resolve(t)
    if nd is None:
        _is_leaf_type(t)
        leaves.append(node)
        return None
    children, aux = nd.flatten(node)
    return (t, aux, tuple([_flatten_plain(c, leaves) for c in children]))


def _flatten_with_is_leaf(node, leaves, is_leaf):
    if is_leaf(node):
        leaves.append(node)
        return None
    t = type(node)
    nd = _type_cache.get(t, _MISSING)
    if nd is _MISSING:
        nd = _resolve(t)
    if nd is None:
        leaves.append(node)
        return None
    children, aux = nd.flatten(node)
    return (t, aux, tuple([_flatten_with_is_leaf(c, leaves, is_leaf) for c in children]))


def _unflatten(spec, it):
    t, aux, children = spec
    if t is tuple:
        return tuple([next(it) if c is None else _unflatten(c, it) for c in children])
    if t is list:
        return [next(it) if c is None else _unflatten(c, it) for c in children]
    if t is dict:
        return dict(zip(aux, [next(it) if c is None else _unflatten(c, it) for c in children]))
    nd = _lookup(t)
    if nd is None:
        raise TypeError(f"Type {t!r} is no longer a registered pytree node.")
    return nd.unflatten(aux, [next(it) if c is None else _unflatten(c, it) for c in children])


class _PrefixMismatch(Exception):
    def __init__(self, detail):
        super().__init__(detail)
        self.detail = detail
        self.path: list = []  # keys, innermost first


def _type_desc(t) -> str:
    if t is _NoneType:
        return "None"
    return t.__qualname__ if hasattr(t, "__qualname__") else repr(t)


def _flatten_up_to(spec, tree, out):
    t, aux, children = spec
    tt = type(tree)
    if tt is not t:
        if t is _NoneType:
            raise _PrefixMismatch(f"expected None, got a value of type {_type_desc(tt)}")
        if tt is _NoneType:
            raise _PrefixMismatch(f"expected a {_type_desc(t)} node, got None")
        kind = "node" if _lookup(tt) is not None else "leaf"
        raise _PrefixMismatch(f"expected a {_type_desc(t)} node, got a {_type_desc(tt)} {kind}")
    if t is tuple or t is list:
        if len(tree) != len(children):
            raise _PrefixMismatch(
                f"expected a {t.__name__} of length {len(children)}, got length {len(tree)}"
            )
        subtrees = tree
    elif t in _MAPPING_TYPES:
        keys = aux[1] if t is _defaultdict else aux
        if len(tree) != len(keys) or any(k not in tree for k in keys):
            raise _PrefixMismatch(
                f"expected a {t.__name__} with keys {list(keys)}, got keys {list(tree)}"
            )
        if t is _defaultdict and tree.default_factory != aux[0]:
            raise _PrefixMismatch(
                f"expected a defaultdict with default_factory {aux[0]!r}, "
                f"got {tree.default_factory!r}"
            )
        subtrees = [tree[k] for k in keys]
    else:
        nd = _lookup(t)
        subtrees, taux = nd.flatten(tree)
        subtrees = list(subtrees)
        try:
            same = bool(taux == aux)
        except Exception:
            same = taux is aux
        if not same:
            raise _PrefixMismatch(
                f"expected a {_type_desc(t)} node with aux data {aux!r}, got aux data {taux!r}"
            )
        if len(subtrees) != len(children):
            raise _PrefixMismatch(
                f"expected a {_type_desc(t)} node with {len(children)} children, "
                f"got {len(subtrees)}"
            )
    for i, (c, sub) in enumerate(zip(children, subtrees)):
        if c is None:
            out.append(sub)
            continue
        try:
            _flatten_up_to(c, sub, out)
        except _PrefixMismatch as e:
            e.path.append(_child_key(t, aux, tree, i, len(children)))
            raise


def _child_key(t, aux, obj, i, n):
    nd = _lookup(t)
    try:
        return nd.keys(aux, obj, n)[i]
    except Exception:
        return FlattenedIndexKey(i)


# ---------------------------------------------------------------------------
# Public flatten API
# ---------------------------------------------------------------------------


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list[Any], PyTreeDef]:
    """Flatten a pytree into a list of leaves and a treedef.

    Args:
      tree: The pytree to flatten.
      is_leaf: Optional predicate called on every subtree (outermost first);
        when it returns True the subtree is treated as a leaf and not
        flattened further.

    Returns:
      ``(leaves, treedef)``: the leaves in depth-first, left-to-right order
      (dicts in sorted-key order) and a :class:`PyTreeDef`.

    Examples:
      >>> leaves, td = tree_flatten((1, [2, None], {"z": 3, "a": 4}))
      >>> leaves
      [1, 2, 4, 3]
      >>> td
      PyTreeDef((*, [*, None], {'a': *, 'z': *}))
    """
    leaves: list[Any] = []
    if is_leaf is None:
        t = type(tree)
        if t is tuple:
            # Hot path: a tuple of arrays (the argument tuple of grad/jit).
            specs = []
            for c in tree:
                if type(c) in _leaf_types:
                    leaves.append(c)
                    specs.append(None)
                else:
                    specs.append(_flatten_plain(c, leaves))
            spec = (tuple, None, tuple(specs))
        else:
            spec = _flatten_plain(tree, leaves)
    else:
        spec = _flatten_with_is_leaf(tree, leaves, is_leaf)
    td = _new_obj(PyTreeDef)
    _set_spec(td, spec)
    _set_num_leaves(td, len(leaves))
    _set_hash(td, None)
    return leaves, td


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree from a treedef and leaves.

    Args:
      treedef: Structure from :func:`tree_flatten` or :func:`tree_structure`.
      leaves: Iterable with exactly ``treedef.num_leaves`` values.

    Returns:
      The pytree with ``treedef``'s structure and the given leaves.

    Raises:
      ValueError: If the number of leaves does not match.

    Examples:
      >>> leaves, td = tree_flatten({"a": 1, "b": [2, 3]})
      >>> tree_unflatten(td, [x * 10 for x in leaves])
      {'a': 10, 'b': [20, 30]}
    """
    return treedef.unflatten(leaves)


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """Return the leaves of a pytree as a list.

    Args:
      tree: The pytree.
      is_leaf: Optional predicate marking subtrees to treat as leaves.

    Returns:
      The list of leaves, in the same order as :func:`tree_flatten`.

    Examples:
      >>> tree_leaves({"b": [1, None], "a": (2,)})
      [2, 1]
    """
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """Return the treedef of a pytree.

    Args:
      tree: The pytree.
      is_leaf: Optional predicate marking subtrees to treat as leaves.

    Returns:
      The :class:`PyTreeDef` of ``tree``.

    Examples:
      >>> tree_structure([1, (2, 3)])
      PyTreeDef([*, (*, *)])
    """
    return tree_flatten(tree, is_leaf)[1]


def _spec_diff(a, b, path=()):
    """First place where specs ``a`` and ``b`` differ: (path, description)."""
    if a is _LEAF and b is _LEAF:
        return None
    if a is _LEAF or b is _LEAF:
        da = "a leaf" if a is _LEAF else f"a {_type_desc(a[0])} node"
        db = "a leaf" if b is _LEAF else f"a {_type_desc(b[0])} node"
        return path, f"{da} vs {db}"
    ta, auxa, ca = a
    tb, auxb, cb = b
    if ta is not tb:
        return path, f"node type {_type_desc(ta)} vs {_type_desc(tb)}"
    try:
        same = bool(auxa == auxb)
    except Exception:
        same = auxa is auxb
    if not same:
        if ta in _MAPPING_TYPES:
            return path, f"dict keys {list(auxa if ta is not _defaultdict else auxa[1])} vs " \
                         f"{list(auxb if tb is not _defaultdict else auxb[1])}"
        return path, f"{_type_desc(ta)} aux data {auxa!r} vs {auxb!r}"
    if len(ca) != len(cb):
        return path, f"{_type_desc(ta)} with {len(ca)} children vs {len(cb)} children"
    nd = _lookup(ta)
    keys = None
    for i, (x, y) in enumerate(zip(ca, cb)):
        if x == y:
            continue
        if keys is None:
            try:
                keys = nd.keys(auxa, None, len(ca))
            except Exception:
                keys = _flat_keys(auxa, None, len(ca))
        return _spec_diff(x, y, path + (keys[i],))
    return None


def _structure_mismatch_error(fn: str, td0: PyTreeDef, i: int, tdi: PyTreeDef) -> ValueError:
    diff = _spec_diff(td0._spec, tdi._spec)
    detail = ""
    if diff is not None:
        path, desc = diff
        detail = f" First difference at {keystr(path) if path else '<root>'}: {desc}."
    return ValueError(
        f"{fn}: argument {i} has a different tree structure than the first tree argument.{detail}\n"
        f"  first tree structure: {td0!r}\n"
        f"  argument {i} structure: {tdi!r}"
    )


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` to every leaf (or to corresponding leaves of several trees).

    Args:
      f: Function called as ``f(x, *xs)`` where ``x`` is a leaf of ``tree``
        and ``xs`` are the corresponding leaves of ``rest``.
      tree: The pytree whose structure the result has.
      *rest: Further pytrees, each with exactly the same structure as
        ``tree``.
      is_leaf: Optional predicate marking subtrees to treat as leaves (applied
        to every tree).

    Returns:
      A pytree with ``tree``'s structure whose leaves are the results of
      ``f``.

    Raises:
      ValueError: If some tree in ``rest`` has a different structure; the
        message shows both structures and the first differing path.

    Examples:
      >>> tree_map(lambda x, y: x + y, {"a": 1, "b": (2, 3)}, {"a": 10, "b": (20, 30)})
      {'a': 11, 'b': (22, 33)}
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    all_leaves = [leaves]
    for i, r in enumerate(rest, 1):
        rl, rtd = tree_flatten(r, is_leaf)
        if rtd != treedef:
            raise _structure_mismatch_error("tree_map", treedef, i, rtd)
        all_leaves.append(rl)
    return treedef.unflatten([f(*xs) for xs in zip(*all_leaves)])


# --- key paths -----------------------------------------------------------------


def _flatten_with_path(node, path, out, is_leaf):
    if is_leaf is not None and is_leaf(node):
        out.append((path, node))
        return None
    t = type(node)
    nd = _lookup(t)
    if nd is None:
        out.append((path, node))
        return None
    pairs, aux = nd.flatten_with_keys(node)
    specs = []
    for k, c in pairs:
        specs.append(_flatten_with_path(c, path + (k,), out, is_leaf))
    return (t, aux, tuple(specs))


def tree_flatten_with_path(
    tree: Any, is_leaf: Callable[[Any], bool] | None = None
) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """Flatten a pytree, also returning the key path of every leaf.

    Args:
      tree: The pytree.
      is_leaf: Optional predicate marking subtrees to treat as leaves.

    Returns:
      ``([(path, leaf), ...], treedef)`` where each ``path`` is a tuple of
      key entries (:class:`SequenceKey`, :class:`DictKey`,
      :class:`GetAttrKey`, :class:`FlattenedIndexKey`, or custom keys).

    Examples:
      >>> pairs, _ = tree_flatten_with_path({"params": [1, 2]})
      >>> [(keystr(p), x) for p, x in pairs]
      [("['params'][0]", 1), ("['params'][1]", 2)]
    """
    out: list[tuple[KeyPath, Any]] = []
    spec = _flatten_with_path(tree, (), out, is_leaf)
    return out, _make_treedef(spec, len(out))


def tree_leaves_with_path(
    tree: Any, is_leaf: Callable[[Any], bool] | None = None
) -> list[tuple[KeyPath, Any]]:
    """Return ``[(path, leaf), ...]`` for a pytree.

    Args:
      tree: The pytree.
      is_leaf: Optional predicate marking subtrees to treat as leaves.

    Returns:
      A list of ``(key_path, leaf)`` pairs in leaf order.

    Examples:
      >>> [keystr(p) for p, _ in tree_leaves_with_path((1, {"w": 2}))]
      ['[0]', "[1]['w']"]
    """
    return tree_flatten_with_path(tree, is_leaf)[0]


def tree_map_with_path(
    f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None
) -> Any:
    """Like :func:`tree_map`, but ``f`` also receives each leaf's key path.

    Args:
      f: Called as ``f(path, x, *xs)``.
      tree: The pytree whose structure the result has.
      *rest: Further pytrees with exactly the same structure as ``tree``.
      is_leaf: Optional predicate marking subtrees to treat as leaves.

    Returns:
      A pytree with ``tree``'s structure holding the results of ``f``.

    Raises:
      ValueError: If some tree in ``rest`` has a different structure.

    Examples:
      >>> tree_map_with_path(lambda p, x: keystr(p), {"a": 0, "b": [0]})
      {'a': "['a']", 'b': ["['b'][0]"]}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(p, x) for p, x in pairs])
    all_leaves = []
    for i, r in enumerate(rest, 1):
        rl, rtd = tree_flatten(r, is_leaf)
        if rtd != treedef:
            raise _structure_mismatch_error("tree_map_with_path", treedef, i, rtd)
        all_leaves.append(rl)
    return treedef.unflatten([f(p, x, *xs) for (p, x), *xs in zip(pairs, *all_leaves)])


# --- reductions and misc -------------------------------------------------------


def tree_all(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Return True if every leaf of ``tree`` is truthy.

    Args:
      tree: The pytree (leaves must have an unambiguous truth value).
      is_leaf: Optional predicate marking subtrees to treat as leaves.

    Returns:
      ``all(tree_leaves(tree))``.

    Examples:
      >>> tree_all({"a": True, "b": [1, 2]}), tree_all((True, 0))
      (True, False)
    """
    return all(tree_leaves(tree, is_leaf))


def tree_reduce(
    function: Callable[[Any, Any], Any],
    tree: Any,
    initializer: Any = _MISSING,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """Reduce the leaves of a pytree with a binary function.

    Args:
      function: ``function(accumulated, leaf) -> accumulated``.
      tree: The pytree.
      initializer: Optional starting value.
      is_leaf: Optional predicate marking subtrees to treat as leaves.

    Returns:
      ``functools.reduce(function, tree_leaves(tree), initializer)``.

    Raises:
      TypeError: If the tree has no leaves and no initializer is given.

    Examples:
      >>> import operator
      >>> tree_reduce(operator.add, {"a": 1, "b": (2, 3)})
      6
      >>> tree_reduce(operator.add, [], initializer=0)
      0
    """
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _MISSING:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, pytree_to_transpose: Any) -> Any:
    """Turn a tree of trees into a tree of trees with the levels swapped.

    Args:
      outer_treedef: Structure of the outer level of ``pytree_to_transpose``.
      inner_treedef: Structure of each inner tree; if None it is taken from
        the first inner tree.
      pytree_to_transpose: A pytree with ``outer_treedef`` as a prefix whose
        subtrees at its leaf positions all have structure ``inner_treedef``.

    Returns:
      A pytree with structure ``inner_treedef`` whose leaves are trees with
      structure ``outer_treedef``.

    Raises:
      ValueError: If the structures do not match.

    Examples:
      >>> outer, inner = tree_structure([0, 0]), tree_structure((0, 0))
      >>> tree_transpose(outer, inner, [(1, 2), (3, 4)])
      ([1, 3], [2, 4])
    """
    subtrees = outer_treedef.flatten_up_to(pytree_to_transpose)
    if inner_treedef is None:
        if not subtrees:
            raise ValueError("tree_transpose: cannot infer inner_treedef from an empty outer tree.")
        inner_treedef = tree_structure(subtrees[0])
    columns = [inner_treedef.flatten_up_to(s) for s in subtrees]
    n_inner = inner_treedef.num_leaves
    transposed = [outer_treedef.unflatten([col[j] for col in columns]) for j in range(n_inner)]
    return inner_treedef.unflatten(transposed)


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """Return True if ``treedef`` is the structure of a single leaf.

    Args:
      treedef: A :class:`PyTreeDef`.

    Returns:
      True for ``tree_structure(leaf)``, False otherwise (also for ``None``,
      which is a node with no children).

    Examples:
      >>> treedef_is_leaf(tree_structure(1.0)), treedef_is_leaf(tree_structure(None))
      (True, False)
    """
    return treedef._spec is _LEAF


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """Return the treedefs of the root's children (see :meth:`PyTreeDef.children`).

    Args:
      treedef: A :class:`PyTreeDef`.

    Returns:
      A list of ``PyTreeDef``, one per child of the root node (empty for a
      leaf or ``None``).

    Examples:
      >>> treedef_children(tree_structure({"a": 1, "b": (2, 3)}))
      [PyTreeDef(*), PyTreeDef((*, *))]
    """
    return treedef.children()


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
    """Build the treedef of a tuple whose elements have the given structures.

    Args:
      treedefs: Iterable of :class:`PyTreeDef`.

    Returns:
      ``PyTreeDef`` of ``tuple(trees)``.

    Examples:
      >>> treedef_tuple([tree_structure(1), tree_structure([1, 2])])
      PyTreeDef((*, [*, *]))
    """
    tds = list(treedefs)
    return _make_treedef((tuple, None, tuple(td._spec for td in tds)), sum(td._num_leaves for td in tds))


def all_leaves(iterable: Iterable[Any], is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Return True if every element of ``iterable`` is a leaf.

    Args:
      iterable: Values to test (e.g. the result of :func:`tree_leaves`).
      is_leaf: Optional predicate; values for which it is True count as
        leaves too.

    Returns:
      True if flattening each element would give back just that element.

    Examples:
      >>> all_leaves([1.0, "s"]), all_leaves([1.0, (2.0,)]), all_leaves([None])
      (True, False, False)
    """
    for x in iterable:
        if is_leaf is not None and is_leaf(x):
            continue
        if _lookup(type(x)) is not None:
            return False
    return True


def broadcast_prefix(
    prefix_tree: Any, full_tree: Any, is_leaf: Callable[[Any], bool] | None = None
) -> list[Any]:
    """Broadcast the leaves of a prefix tree over the leaves of a full tree.

    Each leaf of ``prefix_tree`` is repeated once for every leaf of the
    matching subtree of ``full_tree``.  This is how ``in_axes``-style
    arguments are expanded to one entry per array leaf.

    Args:
      prefix_tree: A pytree whose structure is a prefix of ``full_tree``'s.
      full_tree: The full pytree.
      is_leaf: Predicate used when flattening ``prefix_tree`` (e.g.
        ``lambda x: x is None`` so that ``None`` entries count as leaves).

    Returns:
      A list with one entry per leaf of ``full_tree``.

    Raises:
      ValueError: If ``prefix_tree`` is not a prefix of ``full_tree``.

    Examples:
      >>> broadcast_prefix((0, None), ([1, 2], 3), is_leaf=lambda x: x is None)
      [0, 0, None]
    """
    prefix_leaves, prefix_td = tree_flatten(prefix_tree, is_leaf)
    subtrees = prefix_td.flatten_up_to(full_tree)
    out: list[Any] = []
    for p, sub in zip(prefix_leaves, subtrees):
        out.extend([p] * tree_structure(sub).num_leaves)
    return out
