"""Tests for funcgrad.tree_util."""

from __future__ import annotations

import collections
import dataclasses
import operator
import pickle
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funcgrad.tree_util import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    PyTreeDef,
    SequenceKey,
    all_leaves,
    broadcast_prefix,
    keystr,
    register_dataclass,
    register_pytree_node,
    register_pytree_node_class,
    register_pytree_with_keys,
    tree_all,
    tree_flatten,
    tree_flatten_with_path,
    tree_leaves,
    tree_leaves_with_path,
    tree_map,
    tree_map_with_path,
    tree_reduce,
    tree_structure,
    tree_transpose,
    tree_unflatten,
    treedef_children,
    treedef_is_leaf,
    treedef_tuple,
)

# ---------------------------------------------------------------------------
# Helpers and module-level node types
# ---------------------------------------------------------------------------


class Point(NamedTuple):
    x: Any
    y: Any


Pair = collections.namedtuple("Pair", ["first", "second"])


@dataclasses.dataclass
class Layer:
    w: Any
    b: Any
    name: str = dataclasses.field(default="layer", metadata={"static": True})


@dataclasses.dataclass(frozen=True)
class FrozenDC:
    a: Any
    b: Any = None


@dataclasses.dataclass
class DCWithInitFalse:
    a: Any
    c: Any = dataclasses.field(init=False)

    def __post_init__(self):
        self.c = 0


def assert_tree_equal(a, b):
    """Structural equality with exact node types (dict order-insensitive)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, collections.OrderedDict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            assert_tree_equal(a[k], b[k])
    elif isinstance(a, dict):
        assert set(a.keys()) == set(b.keys())
        for k in a:
            assert_tree_equal(a[k], b[k])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_tree_equal(x, y)
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_tree_equal(getattr(a, f.name), getattr(b, f.name))
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


# ---------------------------------------------------------------------------
# Round trips for every node type
# ---------------------------------------------------------------------------

EXAMPLES = [
    1,
    1.5,
    "leaf-string",
    np.arange(3.0),
    None,
    (),
    [],
    {},
    collections.OrderedDict(),
    (1, 2),
    (1,),
    [1, [2, [3]]],
    {"b": 1, "a": 2},
    {"x": None, "y": (None, 3)},
    collections.OrderedDict([("z", 1), ("a", 2)]),
    collections.defaultdict(list, {"q": 1, "p": (2, 3)}),
    Point(1, (2, 3)),
    Pair([1], {"k": 2}),
    Layer(w=np.ones((2, 2)), b=np.zeros(2), name="dense"),
    FrozenDC(a=1, b=(2, 3)),
    {"params": [Layer(np.ones(2), 0.0), Point(None, [])], "opt": (collections.OrderedDict(m=1), ())},
    [(), [], {}, None, ((),)],
]


@pytest.mark.parametrize("tree", EXAMPLES, ids=lambda t: type(t).__name__)
def test_round_trip(tree):
    leaves, treedef = tree_flatten(tree)
    assert isinstance(treedef, PyTreeDef)
    assert treedef.num_leaves == len(leaves)
    rebuilt = tree_unflatten(treedef, leaves)
    assert_tree_equal(rebuilt, tree)
    # Leaves are passed through by identity.
    for x, y in zip(tree_leaves(rebuilt), leaves):
        assert x is y
    assert tree_structure(rebuilt) == treedef
    assert_tree_equal(tree_map(lambda x: x, tree), tree)


def test_leaf_order():
    tree = (1, [2, None], {"z": 3, "a": 4}, Point(5, 6))
    assert tree_leaves(tree) == [1, 2, 4, 3, 5, 6]


def test_none_is_node_without_children():
    assert tree_leaves(None) == []
    assert tree_leaves([None, 1, (None,)]) == [1]
    td = tree_structure(None)
    assert not treedef_is_leaf(td)
    assert td.num_leaves == 0 and td.num_nodes == 1
    assert tree_unflatten(td, []) is None
    assert repr(td) == "PyTreeDef(None)"
    # ... unless is_leaf says otherwise.
    assert tree_leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]


def test_scalar_leaf():
    leaves, td = tree_flatten(3.0)
    assert leaves == [3.0]
    assert treedef_is_leaf(td)
    assert repr(td) == "PyTreeDef(*)"
    assert tree_unflatten(td, [7]) == 7


def test_empty_containers_are_distinct_structures():
    tds = [tree_structure(x) for x in [(), [], {}, None, collections.OrderedDict()]]
    for i in range(len(tds)):
        for j in range(len(tds)):
            assert (tds[i] == tds[j]) == (i == j)


def test_tuple_subclass_without_fields_is_leaf():
    class MyTuple(tuple):
        pass

    t = MyTuple((1, 2))
    assert tree_leaves(t) == [t]


def test_dict_subclass_is_leaf():
    class MyDict(dict):
        pass

    d = MyDict(a=1)
    assert tree_leaves(d) == [d]


def test_dataclass_class_object_is_leaf():
    assert tree_leaves([Layer]) == [Layer]


# ---------------------------------------------------------------------------
# Dicts and ordered containers
# ---------------------------------------------------------------------------


def test_dict_sorted_keys():
    d = {"b": 1, "c": 2, "a": 3}
    leaves, td = tree_flatten(d)
    assert leaves == [3, 1, 2]
    assert repr(td) == "PyTreeDef({'a': *, 'b': *, 'c': *})"
    out = tree_unflatten(td, [10, 20, 30])
    assert out == {"a": 10, "b": 20, "c": 30}
    assert tree_structure({"a": 0, "b": 0, "c": 0}) == td


def test_dict_unsortable_keys_use_insertion_order():
    d = {1: "one", "x": "ex", 0: "zero"}
    leaves, td = tree_flatten(d)
    assert leaves == ["one", "ex", "zero"]
    assert tree_unflatten(td, leaves) == d


def test_ordered_dict_preserves_order_and_type():
    od = collections.OrderedDict([("z", 1), ("a", 2), ("m", 3)])
    leaves, td = tree_flatten(od)
    assert leaves == [1, 2, 3]
    out = tree_unflatten(td, leaves)
    assert type(out) is collections.OrderedDict
    assert list(out.keys()) == ["z", "a", "m"]
    assert repr(td) == "PyTreeDef(OrderedDict({'z': *, 'a': *, 'm': *}))"
    # Order matters for OrderedDict structures.
    assert tree_structure(collections.OrderedDict([("a", 2), ("z", 1), ("m", 3)])) != td
    # An OrderedDict is not a dict structurally.
    assert tree_structure(dict(od)) != td


def test_defaultdict_preserved():
    dd = collections.defaultdict(list, {"b": 1, "a": 2})
    leaves, td = tree_flatten(dd)
    assert leaves == [2, 1]
    out = tree_unflatten(td, leaves)
    assert type(out) is collections.defaultdict
    assert out.default_factory is list
    assert tree_structure(collections.defaultdict(int, {"b": 1, "a": 2})) != td


def test_namedtuple_preserved():
    p = Point(1, [2, 3])
    leaves, td = tree_flatten(p)
    assert leaves == [1, 2, 3]
    out = tree_unflatten(td, leaves)
    assert type(out) is Point and out == p
    assert repr(td) == "PyTreeDef(Point(x=*, y=[*, *]))"
    # Different namedtuple types / plain tuples give different structures.
    assert tree_structure((1, [2, 3])) != td
    assert tree_structure(Pair(1, [2, 3])) != td
    out2 = tree_unflatten(tree_structure(Pair(0, 0)), ["a", "b"])
    assert type(out2) is Pair and out2.second == "b"


# ---------------------------------------------------------------------------
# Dataclasses
# ---------------------------------------------------------------------------


def test_dataclass_static_field():
    layer = Layer(w=np.ones(2), b=np.zeros(2), name="dense")
    leaves, td = tree_flatten(layer)
    assert len(leaves) == 2
    assert leaves[0] is layer.w and leaves[1] is layer.b
    assert repr(td) == "PyTreeDef(Layer(w=*, b=*, name='dense'))"
    out = tree_unflatten(td, [1, 2])
    assert type(out) is Layer
    assert (out.w, out.b, out.name) == (1, 2, "dense")
    # Static field takes part in structure equality.
    assert tree_structure(Layer(0, 0, name="dense")) == td
    assert tree_structure(Layer(0, 0, name="other")) != td
    assert hash(tree_structure(Layer(0, 0, name="dense"))) == hash(td)


def test_frozen_dataclass_round_trip():
    x = FrozenDC(a=np.ones(3), b=[1, 2])
    out = tree_map(lambda v: v * 2, x)
    assert type(out) is FrozenDC
    np.testing.assert_array_equal(out.a, 2 * np.ones(3))
    assert out.b == [2, 4]


def test_dataclass_init_false_field_and_no_post_init_on_rebuild():
    x = DCWithInitFalse(a=1)
    leaves, td = tree_flatten(x)
    assert leaves == [1, 0]
    out = tree_unflatten(td, [5, 7])
    # __post_init__ would have reset c to 0; rebuilding does not call it.
    assert (out.a, out.c) == (5, 7)


def test_dataclass_key_paths():
    paths = [keystr(p) for p, _ in tree_leaves_with_path({"l": Layer(1, 2)})]
    assert paths == ["['l'].w", "['l'].b"]


def test_register_dataclass_explicit():
    @dataclasses.dataclass
    class Explicit:
        x: Any
        y: Any
        tag: str

    register_dataclass(Explicit, data_fields=["y", "x"], meta_fields=["tag"])
    obj = Explicit(x=1, y=2, tag="t")
    leaves, td = tree_flatten(obj)
    assert leaves == [2, 1]
    out = tree_unflatten(td, [20, 10])
    assert (out.x, out.y, out.tag) == (10, 20, "t")
    assert [keystr(p) for p, _ in tree_leaves_with_path(obj)] == [".y", ".x"]
    assert tree_structure(Explicit(0, 0, "u")) != td


def test_register_dataclass_inferred_and_plain_class():
    @register_dataclass
    @dataclasses.dataclass
    class Inferred:
        a: Any
        s: int = dataclasses.field(default=0, metadata={"static": True})

    assert tree_leaves(Inferred(a=[1, 2], s=3)) == [1, 2]

    class Plain:
        def __init__(self, v, k):
            self.v, self.k = v, k

    register_dataclass(Plain, data_fields=["v"], meta_fields=["k"])
    out = tree_map(lambda z: z + 1, Plain(1, "key"))
    assert (out.v, out.k) == (2, "key")


def test_register_dataclass_errors():
    @dataclasses.dataclass
    class Bad:
        x: Any
        y: Any

    with pytest.raises(ValueError, match="init fields"):
        register_dataclass(Bad, data_fields=["x"], meta_fields=[])
    with pytest.raises(ValueError, match="both data and meta"):
        register_dataclass(Bad, data_fields=["x", "y"], meta_fields=["x"])

    class NotDC:
        pass

    with pytest.raises(ValueError, match="non-dataclass"):
        register_dataclass(NotDC)


# ---------------------------------------------------------------------------
# Custom registration
# ---------------------------------------------------------------------------


def test_register_pytree_node():
    class Box:
        def __init__(self, items, label):
            self.items, self.label = items, label

    register_pytree_node(Box, lambda b: (b.items, b.label), lambda aux, ch: Box(list(ch), aux))
    b = Box([1, (2, 3)], "lbl")
    leaves, td = tree_flatten(b)
    assert leaves == [1, 2, 3]
    out = tree_unflatten(td, [4, 5, 6])
    assert type(out) is Box and out.items == [4, (5, 6)] and out.label == "lbl"
    assert "CustomNode(Box['lbl']" in repr(td)
    assert tree_structure(Box([0, (0, 0)], "other")) != td
    paths = [p for p, _ in tree_leaves_with_path(b)]
    assert paths[0] == (FlattenedIndexKey(0),)
    assert keystr(paths[1]) == "[<flat index 1>][0]"


def test_register_pytree_node_class():
    @register_pytree_node_class
    class Params:
        def __init__(self, w, b):
            self.w, self.b = w, b

        def tree_flatten(self):
            return (self.w, self.b), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    p = Params(np.ones(2), 3.0)
    out = tree_map(lambda x: x * 2, p)
    assert type(out) is Params
    np.testing.assert_array_equal(out.w, 2 * np.ones(2))
    assert out.b == 6.0
    assert tree_structure(p) == tree_structure(Params(0, 0))


def test_register_pytree_node_class_with_keys_method():
    @register_pytree_node_class
    class Named:
        def __init__(self, a):
            self.a = a

        def tree_flatten(self):
            return (self.a,), None

        def tree_flatten_with_keys(self):
            return ((GetAttrKey("a"), self.a),), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    assert [keystr(p) for p, _ in tree_leaves_with_path([Named(1)])] == ["[0].a"]


def test_register_pytree_with_keys():
    class Vec:
        def __init__(self, x, y):
            self.x, self.y = x, y

    register_pytree_with_keys(
        Vec,
        lambda v: (((GetAttrKey("x"), v.x), (GetAttrKey("y"), v.y)), None),
        lambda aux, ch: Vec(*ch),
    )
    v = Vec(1, {"inner": 2})
    assert tree_leaves(v) == [1, 2]
    pairs, td = tree_flatten_with_path(v)
    assert [keystr(p) for p, _ in pairs] == [".x", ".y['inner']"]
    assert tree_unflatten(td, [3, 4]).y == {"inner": 4}


def test_register_after_type_was_seen_as_leaf():
    class Later:
        def __init__(self, v):
            self.v = v

    obj = Later(5)
    assert tree_leaves((obj, obj)) == [obj, obj]  # leaf while unregistered
    register_pytree_node(Later, lambda o: ((o.v,), None), lambda aux, ch: Later(*ch))
    assert tree_leaves((obj, obj)) == [5, 5]
    assert tree_leaves(obj) == [5]


def test_duplicate_registration_raises():
    class Dup:
        pass

    register_pytree_node(Dup, lambda o: ((), None), lambda aux, ch: Dup())
    with pytest.raises(ValueError, match="Dup"):
        register_pytree_node(Dup, lambda o: ((), None), lambda aux, ch: Dup())
    with pytest.raises(ValueError, match="Dup"):
        register_pytree_node_class(Dup)
    with pytest.raises(ValueError, match="tuple"):
        register_pytree_node(tuple, lambda o: (o, None), lambda aux, ch: tuple(ch))
    with pytest.raises(ValueError, match="dict"):
        register_pytree_node(dict, lambda o: (o, None), lambda aux, ch: dict(ch))


def test_register_pytree_node_class_requires_methods():
    class NoMethods:
        pass

    with pytest.raises(TypeError, match="tree_flatten"):
        register_pytree_node_class(NoMethods)


def test_docstring_examples():
    import doctest

    import funcgrad.tree_util as tu

    result = doctest.testmod(tu, verbose=False)
    assert result.failed == 0 and result.attempted > 20


def test_register_non_type_raises():
    with pytest.raises(TypeError):
        register_pytree_node(object(), lambda o: ((), None), lambda aux, ch: None)


# ---------------------------------------------------------------------------
# PyTreeDef
# ---------------------------------------------------------------------------


def test_treedef_equality_and_hash():
    td1 = tree_structure({"a": np.ones(2), "b": (1, 2)})
    td2 = tree_structure({"b": ("x", "y"), "a": None.__class__})
    assert td1 == td2 and hash(td1) == hash(td2)
    cache = {td1: "hit"}
    assert cache[td2] == "hit"

    different = [
        tree_structure({"a": 0, "c": (0, 0)}),  # different key
        tree_structure({"a": 0, "b": [0, 0]}),  # list vs tuple
        tree_structure({"a": 0, "b": (0, 0, 0)}),  # arity
        tree_structure({"a": 0, "b": (0, None)}),  # None vs leaf
        tree_structure({"a": 0, "b": Point(0, 0)}),  # namedtuple vs tuple
        tree_structure(collections.OrderedDict(a=0, b=(0, 0))),  # OrderedDict vs dict
    ]
    for td in different:
        assert td != td1
        assert not (td == td1)
    assert td1 != "not a treedef"
    assert len({td1, td2, *different}) == 1 + len(different)


def test_treedef_properties():
    td = tree_structure({"a": 1, "b": (2, None)})
    assert td.num_leaves == 2
    assert td.num_nodes == 5  # dict, leaf, tuple, leaf, None
    assert td.children() == [tree_structure(1), tree_structure((2, None))]
    assert treedef_children(td) == td.children()
    assert td.node_data() == (dict, ("a", "b"))
    assert tree_structure(1).node_data() is None
    assert tree_structure(1).children() == []


def test_treedef_repr():
    assert repr(tree_structure({"a": 1, "b": (2, 3)})) == "PyTreeDef({'a': *, 'b': (*, *)})"
    assert repr(tree_structure((1,))) == "PyTreeDef((*,))"
    assert repr(tree_structure([1, [None, ()]])) == "PyTreeDef([*, [None, ()]])"


def test_treedef_immutable():
    td = tree_structure((1, 2))
    with pytest.raises(AttributeError):
        td._spec = None
    with pytest.raises(AttributeError):
        td.foo = 1
    with pytest.raises(TypeError):
        PyTreeDef()


def test_treedef_pickle():
    td = tree_structure({"a": [1, 2], "p": Point(1, None)})
    td2 = pickle.loads(pickle.dumps(td))
    assert td2 == td and hash(td2) == hash(td)


def test_treedef_unhashable_aux_message():
    @dataclasses.dataclass
    class WithListStatic:
        x: Any
        opts: list = dataclasses.field(default_factory=list, metadata={"static": True})

    td = tree_structure(WithListStatic(1, [1, 2]))
    with pytest.raises(TypeError, match="not hashable"):
        hash(td)


def test_treedef_tuple():
    td = treedef_tuple([tree_structure(1), tree_structure([1, 2])])
    assert td == tree_structure((0, [0, 0]))
    assert td.num_leaves == 3


def test_unflatten_wrong_leaf_count():
    td = tree_structure((1, [2, 3]))
    with pytest.raises(ValueError, match=r"expects 3 leaves, but 2 leaves were given"):
        tree_unflatten(td, [1, 2])
    with pytest.raises(ValueError, match=r"expects 3 leaves, but 4 leaves were given"):
        td.unflatten([1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"expects 1 leaves, but 0"):
        tree_unflatten(tree_structure(1), [])


def test_unflatten_accepts_iterables():
    td = tree_structure((1, {"a": 2}))
    assert tree_unflatten(td, iter([5, 6])) == (5, {"a": 6})
    assert tree_unflatten(td, (5, 6)) == (5, {"a": 6})


# ---------------------------------------------------------------------------
# tree_map and friends
# ---------------------------------------------------------------------------


def test_tree_map_multiple_trees():
    a = {"x": 1, "y": (2, 3)}
    b = {"x": 10, "y": (20, 30)}
    assert tree_map(lambda u, v: u + v, a, b) == {"x": 11, "y": (22, 33)}
    assert tree_map(lambda u, v, w: u + v + w, a, b, b) == {"x": 21, "y": (42, 63)}


def test_tree_map_mismatch_message():
    a = {"x": 1, "y": (2, 3)}
    b = {"x": 1, "y": (2, 3, 4)}
    with pytest.raises(ValueError) as ei:
        tree_map(lambda u, v: u, a, b)
    msg = str(ei.value)
    assert "different tree structure" in msg
    assert "PyTreeDef({'x': *, 'y': (*, *)})" in msg
    assert "PyTreeDef({'x': *, 'y': (*, *, *)})" in msg
    assert "['y']" in msg


def test_tree_map_mismatch_leaf_vs_node():
    with pytest.raises(ValueError, match=r"\[1\]: a leaf vs a list node"):
        tree_map(lambda u, v: u, (1, 2), (1, [2]))
    with pytest.raises(ValueError, match="dict keys"):
        tree_map(lambda u, v: u, {"a": 1}, {"b": 1})


def test_tree_map_is_leaf():
    tree = {"a": (1, 2), "b": [(3, 4)]}
    out = tree_map(lambda t: sum(t), tree, is_leaf=lambda x: isinstance(x, tuple))
    assert out == {"a": 3, "b": [7]}
    # None can be mapped over when it is declared a leaf.
    out = tree_map(lambda x: "none" if x is None else x, [None, 1], is_leaf=lambda x: x is None)
    assert out == ["none", 1]


def test_tree_map_with_path():
    tree = {"params": [Layer(1, 2)], "step": 3}
    out = tree_map_with_path(lambda p, x: keystr(p), tree)
    assert out["params"][0].w == "['params'][0].w"
    assert out["params"][0].b == "['params'][0].b"
    assert out["step"] == "['step']"
    summed = tree_map_with_path(lambda p, x, y: (len(p), x + y), (1, [2]), (10, [20]))
    assert summed == ((1, 11), [(2, 22)])
    with pytest.raises(ValueError, match="tree_map_with_path"):
        tree_map_with_path(lambda p, x, y: x, (1, 2), [1, 2])


def test_tree_flatten_with_path_keys():
    tree = {"b": [10, Point(x=11, y=12)], "a": collections.OrderedDict(k=13)}
    pairs, td = tree_flatten_with_path(tree)
    assert [x for _, x in pairs] == tree_leaves(tree)
    assert td == tree_structure(tree)
    paths = [p for p, _ in pairs]
    assert paths == [
        (DictKey("a"), DictKey("k")),
        (DictKey("b"), SequenceKey(0)),
        (DictKey("b"), SequenceKey(1), GetAttrKey("x")),
        (DictKey("b"), SequenceKey(1), GetAttrKey("y")),
    ]
    assert [keystr(p) for p in paths] == ["['a']['k']", "['b'][0]", "['b'][1].x", "['b'][1].y"]
    assert tree_leaves_with_path(5) == [((), 5)]
    assert tree_leaves_with_path([None]) == []


def test_key_str_and_keystr_options():
    assert str(SequenceKey(0)) == "[0]"
    assert str(DictKey("a")) == "['a']"
    assert str(DictKey(3)) == "[3]"
    assert str(GetAttrKey("name")) == ".name"
    assert str(FlattenedIndexKey(2)) == "[<flat index 2>]"
    path = (DictKey("params"), SequenceKey(0), GetAttrKey("weight"))
    assert keystr(path) == "['params'][0].weight"
    assert keystr(path, simple=True, separator="/") == "params/0/weight"
    assert keystr(()) == ""
    # Keys are small frozen, hashable value objects.
    assert SequenceKey(1) == SequenceKey(1) and hash(DictKey("a")) == hash(DictKey("a"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        SequenceKey(1).idx = 2


def test_tree_flatten_with_path_is_leaf():
    pairs, td = tree_flatten_with_path({"a": (1, 2)}, is_leaf=lambda x: isinstance(x, tuple))
    assert pairs == [((DictKey("a"),), (1, 2))]
    assert td.num_leaves == 1


def test_tree_reduce_and_all():
    tree = {"a": 1, "b": (2, 3)}
    assert tree_reduce(operator.add, tree) == 6
    assert tree_reduce(operator.add, tree, initializer=10) == 16
    assert tree_reduce(operator.add, [], initializer=0) == 0
    with pytest.raises(TypeError):
        tree_reduce(operator.add, [])
    assert tree_all({"a": True, "b": [1, 2]})
    assert not tree_all((True, 0))
    assert tree_all([])
    assert tree_all([None])


def test_tree_transpose():
    outer = tree_structure([0, 0, 0])
    inner = tree_structure({"a": 0, "b": 0})
    tree = [{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5, "b": 6}]
    assert tree_transpose(outer, inner, tree) == {"a": [1, 3, 5], "b": [2, 4, 6]}
    assert tree_transpose(outer, None, tree) == {"a": [1, 3, 5], "b": [2, 4, 6]}


def test_treedef_is_leaf_and_all_leaves():
    assert treedef_is_leaf(tree_structure(np.ones(2)))
    assert not treedef_is_leaf(tree_structure((1,)))
    assert not treedef_is_leaf(tree_structure(None))
    assert all_leaves([1, "a", np.ones(2)])
    assert not all_leaves([1, (2,)])
    assert not all_leaves([None])
    assert all_leaves([None, (1,)], is_leaf=lambda x: x is None or isinstance(x, tuple))
    assert all_leaves(tree_leaves({"a": [1, (2, Layer(3, 4))]}))


# ---------------------------------------------------------------------------
# flatten_up_to / prefixes
# ---------------------------------------------------------------------------


def test_flatten_up_to_prefix():
    prefix = tree_structure((0, {"a": 0, "b": 0}))
    full = ([1, 2], {"a": (3, 4), "b": {"deep": 5}})
    assert prefix.flatten_up_to(full) == [[1, 2], (3, 4), {"deep": 5}]
    # Same structure: gives the leaves.
    assert tree_structure(full).flatten_up_to(full) == tree_leaves(full)
    # A leaf treedef matches anything, None included.
    assert tree_structure(0).flatten_up_to({"x": [1]}) == [{"x": [1]}]
    assert tree_structure(0).flatten_up_to(None) == [None]


def test_flatten_up_to_none_and_namedtuple_and_dataclass():
    prefix = tree_structure((None, Point(0, 0), Layer(0, 0, name="n")))
    full = (None, Point([1], 2), Layer((3, 4), 5, name="n"))
    assert prefix.flatten_up_to(full) == [[1], 2, (3, 4), 5]


def test_flatten_up_to_dict_matches_by_key():
    # Unsortable keys: structure order is insertion order, but matching is by key.
    prefix = tree_structure({1: 0, "a": 0})
    assert prefix.flatten_up_to({"a": "A", 1: "one"}) == ["one", "A"]


def test_flatten_up_to_errors():
    prefix = tree_structure((0, {"a": 0, "b": 0}))
    with pytest.raises(ValueError) as ei:
        prefix.flatten_up_to(([1, 2], {"a": 1, "c": 2}))
    msg = str(ei.value)
    assert "at [1]" in msg
    assert "keys ['a', 'b']" in msg and "keys ['a', 'c']" in msg
    assert "expected (prefix) structure: PyTreeDef((*, {'a': *, 'b': *}))" in msg
    assert "got structure:" in msg and "PyTreeDef(([*, *], {'a': *, 'c': *}))" in msg

    with pytest.raises(ValueError, match=r"at <root>: expected a tuple of length 2, got length 3"):
        prefix.flatten_up_to((1, 2, 3))
    with pytest.raises(ValueError, match=r"at <root>: expected a tuple node, got a list node"):
        prefix.flatten_up_to([1, {"a": 1, "b": 2}])
    with pytest.raises(ValueError, match=r"at \[1\]: expected a dict node, got a int leaf"):
        prefix.flatten_up_to((1, 2))
    with pytest.raises(ValueError, match=r"at \[1\]\['b'\]: expected None"):
        tree_structure((0, {"a": 0, "b": None})).flatten_up_to((1, {"a": 1, "b": 2}))
    with pytest.raises(ValueError, match=r"at \[0\]: expected a tuple node, got None"):
        tree_structure(((0,),)).flatten_up_to((None,))
    with pytest.raises(ValueError, match=r"\.x: expected a list node"):
        tree_structure(Point([0], 0)).flatten_up_to(Point(1, 2))
    with pytest.raises(ValueError, match="aux data"):
        tree_structure(Layer(0, 0, name="a")).flatten_up_to(Layer(0, 0, name="b"))


def test_broadcast_prefix():
    assert broadcast_prefix((0, None), ([1, 2], 3), is_leaf=lambda x: x is None) == [0, 0, None]
    assert broadcast_prefix(1, {"a": (1, 2), "b": 3}) == [1, 1, 1]
    with pytest.raises(ValueError):
        broadcast_prefix((0, 0), (1, 2, 3))


# ---------------------------------------------------------------------------
# Property-based tests
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class HypoDC:
    left: Any
    right: Any
    tag: int = dataclasses.field(default=0, metadata={"static": True})


leaf_values = st.one_of(
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.text(max_size=3),
    st.booleans(),
    st.builds(lambda n, v: np.full((n,), v), st.integers(0, 3), st.integers(-3, 3)),
)
dict_keys = st.one_of(st.text(max_size=3), st.integers(-3, 3))


def _containers(children):
    return st.one_of(
        st.lists(children, max_size=4).map(tuple),
        st.lists(children, max_size=4),
        st.dictionaries(dict_keys, children, max_size=4),
        st.dictionaries(st.text(max_size=3), children, max_size=4).map(
            lambda d: collections.OrderedDict(reversed(list(d.items())))
        ),
        st.builds(Point, children, children),
        st.builds(HypoDC, children, children, st.integers(0, 2)),
        st.just(None),
    )


pytrees = st.recursive(st.one_of(leaf_values, st.just(None)), _containers, max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(pytrees)
def test_hypothesis_round_trip(tree):
    leaves, td = tree_flatten(tree)
    assert td.num_leaves == len(leaves)
    rebuilt = tree_unflatten(td, leaves)
    assert_tree_equal(rebuilt, tree)
    assert tree_structure(rebuilt) == td
    assert hash(tree_structure(rebuilt)) == hash(td)
    assert_tree_equal(tree_map(lambda x: x, tree), tree)
    # Leaf placeholders preserve the structure too.
    assert tree_structure(tree_unflatten(td, [object()] * td.num_leaves)) == td
    # Paths agree with plain flattening.
    pairs, td2 = tree_flatten_with_path(tree)
    assert td2 == td
    assert len(pairs) == len(leaves)
    assert all(a is b for (_, a), b in zip(pairs, leaves))
    # Every structure is a prefix of itself.
    assert all(a is b for a, b in zip(td.flatten_up_to(tree), leaves))
    # repr never fails
    assert repr(td).startswith("PyTreeDef(")


@settings(max_examples=100, deadline=None)
@given(pytrees, pytrees)
def test_hypothesis_treedef_equality_consistent(a, b):
    ta, tb = tree_structure(a), tree_structure(b)
    if ta == tb:
        assert hash(ta) == hash(tb)
        # Structures equal => tree_map over both works.
        tree_map(lambda x, y: (x, y), a, b)
    else:
        with pytest.raises(ValueError, match="different tree structure"):
            tree_map(lambda x, y: (x, y), a, b)


@settings(max_examples=100, deadline=None)
@given(pytrees)
def test_hypothesis_children_compose(tree):
    td = tree_structure(tree)
    if treedef_is_leaf(td):
        assert td.children() == []
        return
    assert sum(c.num_leaves for c in td.children()) == td.num_leaves
    assert 1 + sum(c.num_nodes for c in td.children()) == td.num_nodes
