"""Element-wise pieces of PILOT's step, shared by the step and the lookahead."""

import chex
import jax
import jax.numpy as jnp

# Floor of |n| before its power, and of v̂ in the lookahead, as in the reference.
TINY = 1e-12


def compute_dtype(dtype) -> jnp.dtype:
  """Float32, or wider when the leaf is wider (float64 under x64)."""
  return jnp.promote_types(dtype, jnp.float32)


def bias_correction(decay: chex.Numeric, count: chex.Array) -> chex.Array:
  """1 - decay^count, the bias correction of an exponential moving average.

  In the default float dtype: float32, or float64 under ``jax_enable_x64``, so
  that float64 leaves are not corrected by a float32 number (1 - 0.999 has a
  relative error of 1e-5 in float32).
  """
  return 1 - decay ** count.astype(jax.dtypes.canonicalize_dtype(jnp.float64))


@jax.custom_jvp
def at_least(x: chex.Array, floor: chex.Numeric) -> chex.Array:
  """``max(x, floor)``, differentiated as if the floor were not there.

  The floors below only keep logarithms and quotients finite; the reference
  implementation differentiates through them as if they were absent, and so
  does this. It also keeps selects out of the derivative, which XLA:CPU does
  not vectorise.
  """
  return jnp.maximum(x, floor)


@at_least.defjvp
def _at_least_jvp(primals, tangents):
  x, floor = primals
  return at_least(x, floor), tangents[0]


def power(x: chex.Array, p: chex.Array) -> chex.Array:
  """``x ** p`` for ``x >= 0`` and a traced exponent ``p`` in [0, 1].

  Written as ``exp(p log x)``: XLA's generic ``pow`` is several times slower on
  CPU. ``log 0 = -inf`` is raised to the dtype's lowest finite value so that
  ``0 ** 0 = 1`` (not ``exp(0 * -inf) = nan``) while ``0 ** p = 0`` for p > 0.
  """
  return jnp.exp(p * jnp.maximum(jnp.log(x), jnp.finfo(x.dtype).min))


def direction(
  knobs: chex.Array,
  m_hat: chex.Array,
  v_hat: chex.Array,
  grad: chex.Array,
  eps: chex.Numeric,
) -> chex.Array:
  """u = max(|n|, 1e-12)^(1 - p_s) sign(n) / (v̂^p_v + ε), n = p_m m̂ + (1 - p_m) g."""
  pm, pv, ps = knobs[0], knobs[1], knobs[2]
  # n = p_m m̂ + (1 - p_m) g, written so that p_m appears once.
  n = grad + pm * (m_hat - grad)
  magnitude = jnp.exp((1 - ps) * jnp.log(at_least(jnp.abs(n), TINY)))
  # The denominator is 0 only when eps = 0 and v̂ = 0, where n = 0 too: the
  # reference computes 0/0 = nan there. Flooring it at the smallest normal
  # number makes that step 0 (a `where` would do the same at twice the cost:
  # it stops XLA:CPU from vectorising the fused loop).
  denom = at_least(power(v_hat, pv) + eps, jnp.finfo(v_hat.dtype).tiny)
  return jnp.sign(n) * magnitude / denom


def finite_only(*xs: chex.Array) -> tuple[chex.Array, ...]:
  """``xs`` with 0 at every element where any of them is nan or inf, elsewhere unchanged.

  The sums over the parameters (the agreement, the lookahead) leave out the elements whose
  gradient or moments are not finite, so that one bad element does not make the policy nan:
  it stays in that element, as with Adam. Zeroing the inputs (not masking the terms) keeps the
  derivative finite too: a term masked after the fact would still pass 0 * nan = nan back.
  """
  ok = jnp.isfinite(xs[0])
  for x in xs[1:]:
    ok = ok & jnp.isfinite(x)
  return tuple(jnp.where(ok, x, jnp.zeros_like(x)) for x in xs)


def in_compute_dtype(*xs: chex.Array) -> tuple[chex.Array, ...]:
  """``xs`` cast to the compute dtype of the first (float32, or wider)."""
  dtype = compute_dtype(xs[0].dtype)
  return tuple(x.astype(dtype) for x in xs)


# Bound on |g| and |g_{t-1}| inside the sums over the parameters (a power of two, 1.1e12).
SUM_BOUND = 2.0**40


def bounded(x: chex.Array) -> chex.Array:
  """``x`` clipped to [-2^40, 2^40], as it enters PILOT's sums over the parameters.

  PILOT's sums (the agreement's Σ g², the lookahead's Σ g·∂u) overflow float32
  from |g| ≈ 1.8e19 in a single element, where optax.adamw stays finite; inf/inf
  would make ρ, then the policy and every later step, nan for good. Clipped,
  a square is at most 2^80, and a sum of 2^47 of them is finite. Gradients
  within ±1.1e12 are unchanged, so the sums are the reference's bit for bit;
  beyond it an element counts as ±1.1e12 in the agreement and the lookahead
  (the direction u of the step itself is never clipped). Clipping costs two
  comparisons an element; a scale taken from the largest |g| (exact for a
  cosine) needs another pass over the gradients first, measured at +25% of
  the step on CPU (docs/evidence/cost.md, "Overflow safety, and what it costs").
  """
  return jnp.clip(x, -SUM_BOUND, SUM_BOUND)


def agreement_sums(g: chex.Array, g_prev: chex.Array) -> chex.Array:
  """<g, g_{t-1}>, |g|², |g_{t-1}|² over a piece, in float32 or wider.

  Over the elements where g and g_{t-1} are finite (:func:`finite_only`), each
  clipped to ±2^40 (:func:`bounded`) so that no finite gradient overflows them.
  """
  g, g_prev = (bounded(x) for x in finite_only(*in_compute_dtype(g, g_prev)))
  return jnp.stack([jnp.sum(g * g_prev), jnp.sum(g * g), jnp.sum(g_prev * g_prev)])


def agreement(dot: chex.Array, g_sq: chex.Array, g_prev_sq: chex.Array) -> chex.Array:
  """Cosine r_t between this gradient and the last (0 when either is 0)."""
  norm = jnp.sqrt(g_sq) * jnp.sqrt(g_prev_sq)
  return jnp.where(norm > TINY, dot / jnp.maximum(norm, TINY), 0.0)
