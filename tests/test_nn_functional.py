"""nn.functional: derivatives against finite differences (float64), vmap, dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn.functional as F
from funcgrad.testing import check_grads

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend


def _away(x, gap=0.15):
    """``x`` pushed away from 0 (the kink of relu-like functions)."""
    return np.where(x >= 0, x + gap, x - gap)


RNG = np.random.default_rng(0)
X = _away(RNG.standard_normal((2, 3, 4)))

# (id, function of the differentiable args, args, order)
ACTIVATIONS = [
    ("relu", F.relu, (X,), 2),
    ("relu6", F.relu6, (X * 4 + 0.05,), 1),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), (X,), 2),
    ("elu", lambda x: F.elu(x, 0.7), (X,), 2),
    ("selu", F.selu, (X,), 2),
    ("celu", lambda x: F.celu(x, 1.3), (X,), 2),
    ("gelu", F.gelu, (X,), 2),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), (X,), 2),
    ("sigmoid", F.sigmoid, (X,), 2),
    ("silu", F.silu, (X,), 2),
    ("mish", F.mish, (X,), 2),
    ("softplus", lambda x: F.softplus(x, beta=2.0, threshold=3.0), (X * 2,), 2),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.9), (X,), 1),
    ("hardswish", F.hardswish, (X * 4,), 1),
    ("logsigmoid", F.logsigmoid, (X * 3,), 2),
    ("softsign", F.softsign, (X,), 2),
    ("softmax", lambda x: F.softmax(x, dim=1), (X,), 2),
    ("log_softmax", lambda x: F.log_softmax(x, dim=-1), (X * 10,), 2),
    ("softmin", lambda x: F.softmin(x, 0), (X,), 1),
    ("glu", lambda x: F.glu(x, -1), (X,), 2),
    ("prelu", F.prelu, (X, np.array([0.1, 0.2, 0.3])), 2),
]

LAYERS = [
    ("linear", F.linear, (RNG.standard_normal((2, 5, 3)), RNG.standard_normal((4, 3)),
                          RNG.standard_normal(4)), 2),
    ("bilinear", F.bilinear, (RNG.standard_normal((2, 3)), RNG.standard_normal((2, 2)),
                              RNG.standard_normal((4, 3, 2)), RNG.standard_normal(4)), 2),
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
     (RNG.standard_normal((2, 2, 7)), RNG.standard_normal((3, 2, 3)), RNG.standard_normal(3)),
     2),
    ("conv2d_groups", lambda x, w: F.conv2d(x, w, None, 1, "same", 1, 2),
     (RNG.standard_normal((1, 4, 4, 5)), RNG.standard_normal((2, 2, 3, 2))), 1),
    ("conv3d", lambda x, w: F.conv3d(x, w, padding=1),
     (RNG.standard_normal((1, 1, 3, 3, 2)), RNG.standard_normal((2, 1, 2, 2, 2))), 1),
    ("conv_transpose1d", lambda x, w: F.conv_transpose1d(x, w, stride=2, output_padding=1),
     (RNG.standard_normal((1, 2, 4)), RNG.standard_normal((2, 3, 3))), 1),
    ("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                            groups=2),
     (RNG.standard_normal((1, 2, 3, 3)), RNG.standard_normal((2, 2, 3, 3)),
      RNG.standard_normal(4)), 1),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), (RNG.permutation(48).reshape(1, 3, 4, 4)
                                                  * 0.1,), 2),
    ("max_pool1d_ceil", lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True),
     (RNG.permutation(16).reshape(2, 1, 8) * 0.1,), 1),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
     (RNG.standard_normal((1, 2, 5, 6)),), 2),
    ("avg_pool1d", lambda x: F.avg_pool1d(x, 2), (RNG.standard_normal((2, 2, 5)),), 1),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
     (RNG.standard_normal((1, 2, 7, 5)),), 2),
    ("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 3),
     (RNG.standard_normal((2, 7)),), 1),
    ("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (2, 3)),
     (RNG.permutation(35).reshape(1, 1, 5, 7) * 0.1,), 1),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b),
     (RNG.standard_normal((2, 3, 4)), RNG.standard_normal(4), RNG.standard_normal(4)), 2),
    ("rms_norm", lambda x, w: F.rms_norm(x, (3, 4), w, 1e-3),
     (RNG.standard_normal((2, 3, 4)), RNG.standard_normal((3, 4))), 2),
    ("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     (RNG.standard_normal((4, 3, 2)), RNG.standard_normal(3), RNG.standard_normal(3)), 2),
    ("batch_norm_eval", lambda x, m, v: F.batch_norm(x, m, v, training=False),
     (RNG.standard_normal((4, 3)), RNG.standard_normal(3), RNG.random(3) + 0.5), 1),
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b),
     (RNG.standard_normal((2, 4, 3)), RNG.standard_normal(4), RNG.standard_normal(4)), 2),
    ("instance_norm", lambda x: F.instance_norm(x), (RNG.standard_normal((2, 3, 2, 3)),), 2),
    ("local_response_norm", lambda x: F.local_response_norm(x, 3),
     (RNG.standard_normal((1, 4, 3)),), 1),
    ("embedding", lambda w: F.embedding(np.array([[0, 2], [2, 3]]), w, padding_idx=1),
     (RNG.standard_normal((4, 3)),), 2),
    ("pad_reflect", lambda x: F.pad(x, (2, 1, 1, 1), mode="reflect"),
     (RNG.standard_normal((1, 2, 3, 4)),), 1),
    ("pad_replicate", lambda x: F.pad(x, (2, 1), mode="replicate"),
     (RNG.standard_normal((2, 3)),), 1),
    ("pad_circular", lambda x: F.pad(x, (1, 2, 2, 0), mode="circular"),
     (RNG.standard_normal((1, 1, 3, 4)),), 1),
    ("pad_constant_crop", lambda x: F.pad(x, (-1, 2), value=0.5),
     (RNG.standard_normal((2, 3)),), 1),
    ("normalize", lambda x: F.normalize(x, dim=-1), (RNG.standard_normal((3, 4)),), 2),
    ("normalize_p1", lambda x: F.normalize(x, p=1.0, dim=0), (X[0] + 0.0,), 1),
    ("cosine_similarity", lambda a, b: F.cosine_similarity(a, b, dim=-1),
     (RNG.standard_normal((3, 4)), RNG.standard_normal((1, 4))), 2),
    ("pairwise_distance", lambda a, b: F.pairwise_distance(a, b, p=3.0),
     (RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))), 1),
    ("pdist", lambda x: F.pdist(x), (RNG.standard_normal((4, 3)),), 1),
    ("interpolate_bilinear", lambda x: F.interpolate(x, size=(5, 4), mode="bilinear"),
     (RNG.standard_normal((1, 2, 3, 3)),), 2),
    ("interpolate_nearest", lambda x: F.interpolate(x, scale_factor=2),
     (RNG.standard_normal((1, 1, 2, 3)),), 1),
]


@pytest.mark.parametrize("fn, args, order", [pytest.param(f, a, o, id=i)
                                             for i, f, a, o in ACTIVATIONS + LAYERS])
def test_gradients_match_finite_differences(fn, args, order):
    check_grads(fn, args, order=order)


# --------------------------------------------------------------------------- #
# vmap: the functional forms batch like a loop over examples
# --------------------------------------------------------------------------- #
VMAP = [
    ("softmax", lambda x: F.softmax(x, dim=-1), (4, 3, 5)),
    ("layer_norm", lambda x: F.layer_norm(x, (5,)), (4, 3, 5)),
    ("conv2d", lambda x: F.conv2d(x, np.ones((2, 3, 2, 2)), padding=1), (3, 3, 4, 4)),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), (2, 3, 4, 4)),
    ("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (2, 3)), (2, 1, 5, 7)),
    ("gelu", F.gelu, (3, 4)),
    ("cross_entropy", lambda x: F.cross_entropy(x, np.array([0, 2, 1])), (2, 3, 4)),
    ("pad_reflect", lambda x: F.pad(x, (1, 1), mode="reflect"), (2, 3, 4)),
]


@pytest.mark.parametrize("fn, shape", [pytest.param(f, s, id=i) for i, f, s in VMAP])
def test_vmap_matches_loop(fn, shape):
    x = np.random.default_rng(5).standard_normal(shape)
    batched = fg.vmap(fn)(x)
    looped = np.stack([np.asarray(fn(xi)) for xi in x])
    np.testing.assert_allclose(np.asarray(batched), looped, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- #
# Values, dtypes and errors
# --------------------------------------------------------------------------- #
def test_relu_has_zero_derivative_at_zero():
    g = fg.grad(lambda x: F.relu(x).sum())(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])


def test_softmax_is_stable_and_dim_none_follows_torch():
    x = np.array([[1000.0, 0.0], [-1000.0, 0.0]])
    out = F.softmax(x, dim=1)
    np.testing.assert_allclose(out, [[1.0, 0.0], [0.0, 1.0]])
    assert np.all(np.isfinite(F.log_softmax(x, dim=1)))
    # PyTorch's implicit dim: 0 for 0-, 1- and 3-D inputs, else 1.
    y = np.random.default_rng(0).standard_normal((2, 3, 4))
    np.testing.assert_allclose(F.softmax(y), F.softmax(y, dim=0))
    np.testing.assert_allclose(F.softmax(y[0]), F.softmax(y[0], dim=1))


def test_float32_stays_float32():
    x = fg.Tensor(np.ones((2, 3), np.float32))
    for f in (F.relu, F.gelu, F.silu, F.elu, F.softplus, F.mish, F.hardtanh,
              lambda z: F.softmax(z, 1), lambda z: F.layer_norm(z, (3,))):
        assert f(x).dtype == np.float32
    assert F.cross_entropy(x, fg.Tensor(np.array([0, 1]))).dtype == np.float32


def test_one_hot():
    out = F.one_hot(np.array([0, 2, 1]))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.int64)[[0, 2, 1]])
    assert F.one_hot(np.array([[1]]), num_classes=4).shape == (1, 1, 4)
    with pytest.raises(TypeError, match="index tensor"):
        F.one_hot(np.array([0.0]))
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(np.array([3]), 3)
    t = F.one_hot(fg.Tensor(np.array([1, 0])), 2)
    assert isinstance(t, fg.Tensor) and t.dtype == np.int64


def test_pad_modes_match_numpy():
    x = np.arange(12.0).reshape(1, 3, 4)
    np.testing.assert_array_equal(F.pad(x, (2, 1), mode="reflect"),
                                  np.pad(x, ((0, 0), (0, 0), (2, 1)), mode="reflect"))
    np.testing.assert_array_equal(F.pad(x, (2, 1, 1, 2), mode="replicate"),
                                  np.pad(x, ((0, 0), (1, 2), (2, 1)), mode="edge"))
    np.testing.assert_array_equal(F.pad(x, (3, 1), mode="circular"),
                                  np.pad(x, ((0, 0), (0, 0), (3, 1)), mode="wrap"))
    np.testing.assert_array_equal(F.pad(x, (1, 1), value=7.0),
                                  np.pad(x, ((0, 0), (0, 0), (1, 1)), constant_values=7.0))
    with pytest.raises(ValueError, match="Padding size should be less than"):
        F.pad(x, (4, 0), mode="reflect")


def test_dropout_scales_and_respects_training_flag():
    fg.manual_seed(0)
    x = np.ones((200, 50))
    out = np.asarray(F.dropout(x, 0.25))
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.75)
    assert F.dropout(x, 0.5, training=False) is x
    assert not np.any(F.dropout(x, 1.0))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
    y = np.asarray(F.dropout2d(np.ones((4, 30, 3, 3)), 0.5))
    per_channel = y.reshape(4, 30, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))


def test_dropout_reproducible_with_manual_seed():
    x = np.ones(100)
    fg.manual_seed(3)
    a = np.asarray(F.dropout(x, 0.5))
    fg.manual_seed(3)
    b = np.asarray(F.dropout(x, 0.5))
    np.testing.assert_array_equal(a, b)


def test_alpha_dropout_keeps_mean_and_variance():
    fg.manual_seed(1)
    x = np.random.default_rng(0).standard_normal(200000)
    y = np.asarray(F.alpha_dropout(x, 0.2, training=True))
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02


def test_linear_shape_error():
    with pytest.raises(ValueError, match="in_features=3"):
        F.linear(np.ones((2, 4)), np.ones((5, 3)))


def test_layer_norm_shape_error_matches_torch_wording():
    with pytest.raises(ValueError, match=r"Given normalized_shape=\[4\], expected input with "
                                         r"shape \[\*, 4\], but got input of size\[2, 3\]"):
        F.layer_norm(np.ones((2, 3)), (4,))


def test_batch_norm_training_updates_numpy_running_stats_in_place():
    x = np.random.default_rng(0).standard_normal((8, 2))
    rm, rv = np.zeros(2), np.ones(2)
    F.batch_norm(x, rm, rv, training=True, momentum=0.5)
    np.testing.assert_allclose(rm, 0.5 * x.mean(0))
    np.testing.assert_allclose(rv, 0.5 + 0.5 * x.var(0, ddof=1))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        F.batch_norm(np.ones((1, 2)), None, None, training=True)


def test_group_norm_divisibility_error():
    with pytest.raises(ValueError, match="divisible by num_groups"):
        F.group_norm(np.ones((2, 6, 4)), 4)


def test_embedding_errors():
    with pytest.raises(TypeError, match="integer dtype"):
        F.embedding(np.array([0.0]), np.ones((3, 2)))
    with pytest.raises(IndexError, match="index out of range"):
        F.embedding(np.array([3]), np.ones((3, 2)))


def test_conv_errors_name_the_layer_shape():
    with pytest.raises(ValueError, match="conv2d"):
        F.conv2d(np.ones((1, 3, 5)), np.ones((2, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"Expected 3D \(unbatched\) or 4D \(batched\)"):
        F.conv2d(np.ones((5,)), np.ones((2, 3, 3, 3)))


def test_interpolate_nearest_matches_repeat():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2),
                                  x.repeat(2, axis=2).repeat(2, axis=3))
