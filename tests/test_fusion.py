"""`_fusion.tree_sums`: the chunked sweep gives the sums of the terms over every element."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import enable_x64

from pilot_optax import _fusion


def _terms(x, y):
  """Three sums over a piece, in float32."""
  x, y = x.astype(jnp.float32), y.astype(jnp.float32)
  return jnp.stack([jnp.sum(x * y), jnp.sum(jnp.exp(-x * x) * y), jnp.sum(jnp.abs(y))])


def _numpy_sums(xs, ys):
  x = np.concatenate([np.asarray(a, np.float64).ravel() for a in xs] + [np.zeros(0)])
  y = np.concatenate([np.asarray(a, np.float64).ravel() for a in ys] + [np.zeros(0)])
  return np.array([np.sum(x * y), np.sum(np.exp(-x * x) * y), np.sum(np.abs(y))])


# Leaf sizes around a chunk of 8: smaller, equal, a multiple, a multiple plus a
# rest, empty; and a tree with no leaves at all.
SHAPES = [[(3,)], [(8,)], [(4, 4)], [(5, 7), (2,), (0,), (9, 2)], []]


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("chunk", [8, None])
def test_tree_sums_equals_the_sums_over_all_elements(shapes, chunk):
  rng = np.random.default_rng(len(shapes))
  xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
  ys = [rng.standard_normal(s).astype(np.float32) for s in shapes]
  sums = jax.jit(lambda a, b: _fusion.tree_sums(_terms, a, b, chunk=chunk))(xs, ys)
  assert sums.shape == (3,) and sums.dtype == jnp.float32
  np.testing.assert_allclose(sums, _numpy_sums(xs, ys), rtol=2e-6, atol=1e-6)


def test_tree_sums_chunked_and_whole_leaves_agree_on_a_large_leaf():
  rng = np.random.default_rng(0)
  xs = {"w": rng.standard_normal((3 * _fusion.CHUNK + 1000,)).astype(np.float32)}
  ys = {"w": rng.standard_normal((3 * _fusion.CHUNK + 1000,)).astype(np.float32)}
  chunked = _fusion.tree_sums(_terms, xs, ys, chunk=_fusion.CHUNK)
  whole = _fusion.tree_sums(_terms, xs, ys, chunk=None)
  # Float32 sums of ~800K terms that cancel: compare against the size of the terms.
  scale = _numpy_sums([np.abs(xs["w"])], [np.abs(ys["w"])])
  exact = _numpy_sums([xs["w"]], [ys["w"]])
  np.testing.assert_array_less(np.abs(chunked - exact), 1e-6 * scale)
  np.testing.assert_array_less(np.abs(whole - exact), 1e-6 * scale)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_tree_sums_of_16_bit_leaves_accumulate_in_float32(dtype):
  # 2**12 ones and a rest: a 16-bit running sum would stall at 256 (bfloat16) or
  # 2048 (float16). The chunks of 16-bit leaves are sliced as integers.
  xs = [jnp.ones(2**12, dtype), jnp.full(3, -2.0, dtype)]
  sums = _fusion.tree_sums(_terms, xs, xs, chunk=1000)
  np.testing.assert_allclose(
    sums, [2**12 + 12, 2**12 * np.exp(-1.0) - 6 * np.exp(-4.0), 2**12 + 6], rtol=1e-6
  )


def test_tree_sums_mixed_float32_and_float64_leaves():
  with enable_x64(True):
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(5).astype(np.float32), rng.standard_normal(20)]
    ys = [rng.standard_normal(5).astype(np.float32), rng.standard_normal(20)]
    sums = _fusion.tree_sums(_terms_keep_dtype, xs, ys, chunk=8)
    assert sums.dtype == jnp.float64
    np.testing.assert_allclose(sums, _numpy_sums(xs, ys), rtol=1e-6)


def _terms_keep_dtype(x, y):
  x, y = x.astype(jnp.promote_types(x.dtype, jnp.float32)), y.astype(x.dtype)
  return jnp.stack([jnp.sum(x * y), jnp.sum(jnp.exp(-x * x) * y), jnp.sum(jnp.abs(y))])


def test_tree_sums_under_vmap_slices_without_gathering():
  # vmap over the trees (an ensemble of models): the chunks are still slices.
  xs = {"w": jnp.ones((2, 40)), "b": jnp.ones((2, 3))}
  batched = jax.jit(jax.vmap(lambda a, b: _fusion.tree_sums(_terms, a, b, chunk=8)))
  np.testing.assert_allclose(batched(xs, xs), [[43, 43 * np.exp(-1.0), 43]] * 2, rtol=1e-6)
  assert " gather(" not in batched.lower(xs, xs).compile().as_text()


def test_after_changes_no_value_even_for_nan_and_inf_dependencies():
  for x in (0.0, -3.0, jnp.inf, -jnp.inf, jnp.nan):
    b1, one = _fusion.after(jnp.float32(x), 0.9, 1.0)
    assert float(b1) == np.float32(0.9) and float(one) == 1.0


def test_gradients_summed_by_chunks_equal_the_gradient_of_the_whole_sum():
  # What the step relies on: jax.grad piece by piece, summed, is jax.grad of the sum.
  rng = np.random.default_rng(3)
  xs = [rng.standard_normal(s).astype(np.float32) for s in ((37,), (4, 5), ())]

  def piece_sum(p, x):
    return jnp.sum(jnp.exp(p[0] * jnp.log(jnp.abs(x) + 0.1)) * jnp.sin(p[1] * x))

  p = jnp.array([0.3, 1.7])
  by_chunks = _fusion.tree_sums(lambda x: jax.grad(piece_sum)(p, x), xs, chunk=8)
  whole = jax.grad(lambda p: sum(piece_sum(p, x.reshape(-1)) for x in xs))(p)
  np.testing.assert_allclose(by_chunks, whole, rtol=1e-5)


@pytest.mark.parametrize("shape", [(37,), (4, 5), ()])
def test_spread_has_the_value_and_derivative_of_a_broadcast(shape):
  # The knobs enter each piece of the lookahead through spread: its derivative
  # must be broadcast_to's (the sum of the cotangent), whatever computes the sum.
  rng = np.random.default_rng(4)
  w = jnp.asarray(rng.standard_normal(shape), jnp.float32)

  def loss(x, broadcast):
    y = broadcast(x, w.shape)
    return jnp.sum(jnp.exp(-y * w) * jnp.sin(3 * y + w))

  x = jnp.float32(0.7)
  np.testing.assert_array_equal(_fusion.spread(x, w.shape), jnp.broadcast_to(x, w.shape))
  expected = jax.grad(loss)(x, jnp.broadcast_to)
  np.testing.assert_allclose(jax.grad(loss)(x, _fusion.spread), expected, rtol=1e-5)
  # Under vmap (an ensemble of optimizers) and jit.
  xs = jnp.array([0.7, -1.2, 2.5], jnp.float32)
  batched = jax.jit(jax.vmap(jax.grad(lambda x: loss(x, _fusion.spread))))
  np.testing.assert_allclose(
    batched(xs), [jax.grad(loss)(x, jnp.broadcast_to) for x in xs], rtol=1e-5, atol=1e-6
  )


def test_spread_sums_in_the_cotangent_dtype_with_float32_accuracy_or_better():
  rng = np.random.default_rng(5)
  w = rng.standard_normal(300_000)
  with enable_x64(True):
    grad64 = jax.grad(lambda x: jnp.sum(jnp.asarray(w) * _fusion.spread(x, w.shape)))(1.0)
    assert grad64.dtype == jnp.float64
    np.testing.assert_allclose(grad64, np.sum(w), rtol=1e-12)
  w32 = jnp.asarray(w, jnp.float32)
  grad32 = jax.grad(lambda x: jnp.sum(w32 * _fusion.spread(x, w.shape)))(jnp.float32(1.0))
  assert grad32.dtype == jnp.float32
  np.testing.assert_allclose(grad32, np.sum(np.asarray(w32, np.float64)), rtol=1e-5, atol=1e-3)


def test_after_leaves_arrays_and_trees_bit_for_bit_including_signed_zeros():
  tree = {"a": jnp.array([-0.0, 1.5, jnp.nan]), "b": jnp.ones(2, jnp.bfloat16)}
  (out,) = _fusion.after(jnp.float32(jnp.nan), tree)
  assert out["b"].dtype == jnp.bfloat16
  np.testing.assert_array_equal(np.signbit(out["a"]), np.signbit(tree["a"]))
  np.testing.assert_array_equal(out["a"], tree["a"])


def test_sweep_splits_each_named_sum_and_passes_only_its_trees():
  g = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.array([1.0, -1.0])}
  h = jax.tree.map(lambda x: 2 * x + 1, g)
  out = _fusion.sweep(
    {
      "pair": (lambda a, b: jnp.stack([jnp.sum(a * b), jnp.sum(b)]), ("g", "h")),
      "one": (lambda b: jnp.sum(b * b)[None], ("h",)),
    },
    g=g,
    h=h,
    unused=g,
  )
  flat_g = np.concatenate([np.ravel(x) for x in jax.tree.leaves(g)])
  flat_h = 2 * flat_g + 1
  np.testing.assert_allclose(out["pair"], [flat_g @ flat_h, flat_h.sum()], rtol=1e-6)
  np.testing.assert_allclose(out["one"], [flat_h @ flat_h], rtol=1e-6)
