"""PILOT's learned policy: the coefficients φ and the knobs (p_m, p_v, p_s).

The policy maps the smoothed gradient-agreement signal ρ to three knobs through
one polynomial per knob followed by a sigmoid:

.. math::

  p_m = \\sigma(f(\\rho; \\phi_m)), \\quad
  p_v = \\tfrac12 \\sigma(f(\\rho; \\phi_v)), \\quad
  p_s = \\sigma(f(\\rho; \\phi_s)),

where :math:`f(\\rho; c) = c_d \\rho^d + \\dots + c_1 \\rho + c_0`. φ is stored as
three consecutive blocks of ``degree + 1`` coefficients, highest power first.
"""

from collections.abc import Mapping

import jax
import jax.numpy as jnp

# Order of the knobs in `policy` vectors and of the blocks in φ.
KNOBS = ("pm", "pv", "ps")

# Allowed value of each knob; p_v is half a sigmoid.
KNOB_RANGES = {"pm": (0.0, 1.0), "pv": (0.0, 0.5), "ps": (0.0, 1.0)}

# Constant terms of φ at initialisation: p_m ≈ 0.802, p_v ≈ 0.476, p_s ≈ 0.119,
# an update close to Adam's, whatever ρ is (all other coefficients start at 0).
_INITIAL_CONSTANT_TERMS = (1.4, 3.0, -2.0)


def init_phi(degree: int) -> jax.Array:
  """The initial policy coefficients φ, shape ``(3 * (degree + 1),)``, float32."""
  block = degree + 1
  phi = jnp.zeros((3, block), jnp.float32)
  phi = phi.at[:, -1].set(jnp.asarray(_INITIAL_CONSTANT_TERMS, jnp.float32))
  return phi.reshape(-1)


def _horner(coeffs: jax.Array, x: jax.Array) -> jax.Array:
  """Evaluates ``coeffs[0] x^d + ... + coeffs[d]`` (highest power first)."""
  out = coeffs[0]
  for c in coeffs[1:]:
    out = out * x + c
  return out


def policy_knobs(
  phi: jax.Array,
  rho: jax.Array,
  degree: int | None = None,
  *,
  policy_overrides: Mapping[str, float] | None = None,
) -> jax.Array:
  r"""Turns policy coefficients φ and agreement ρ into the knobs (p_m, p_v, p_s).

  .. math::

    (p_m, p_v, p_s) = \left(\sigma(f(\rho; \phi_m)),\
      \tfrac12\sigma(f(\rho; \phi_v)),\ \sigma(f(\rho; \phi_s))\right)

  with :math:`f` the polynomial whose coefficients (highest power first) are
  the knob's block of φ. Knobs named in ``policy_overrides`` take the given
  value instead.

  Args:
    phi: coefficients, shape ``(3 * (degree + 1),)``, e.g.
      ``optax.tree.get(opt_state, 'phi')``.
    rho: the agreement signal; a scalar or an array of any shape (to draw the
      policy as a curve over ρ).
    degree: polynomial degree; inferred from ``phi`` when omitted.
    policy_overrides: optional mapping from ``'pm'``, ``'pv'``, ``'ps'`` to
      pinned values.

  Returns:
    An array of shape ``rho.shape + (3,)``: p_m, p_v, p_s along the last axis.

  Example:
    >>> import jax.numpy as jnp
    >>> from pilot_optax import init_phi, policy_knobs
    >>> policy_knobs(init_phi(2), jnp.linspace(-1, 1, 5)).shape
    (5, 3)

  References:
    PILOT, arXiv:2605.24570, eq. for the learnable policy.
  """
  phi = jnp.asarray(phi)
  size = phi.shape[-1] if phi.ndim else 1
  if degree is None:
    if size % 3 or size < 6:
      raise ValueError(
        f"phi has {size} coefficients, which is not 3 * (degree + 1) for any degree >= 1"
        " (6, 9, 12, ...)."
      )
    degree = size // 3 - 1
  block = degree + 1
  if size != 3 * block:
    raise ValueError(
      f"phi has {size} coefficients; degree={degree} needs 3 * {block} = {3 * block}."
    )
  rho = jnp.asarray(rho, phi.dtype)
  blocks = phi.reshape(3, block)
  logits = [_horner(blocks[i], rho) for i in range(3)]
  knobs = {
    "pm": jax.nn.sigmoid(logits[0]),
    "pv": 0.5 * jax.nn.sigmoid(logits[1]),
    "ps": jax.nn.sigmoid(logits[2]),
  }
  for name, value in (policy_overrides or {}).items():
    # A pinned knob is a constant: its block of φ gets zero meta-gradient.
    knobs[name] = jnp.full_like(knobs[name], value)
  return jnp.stack([knobs[k] for k in KNOBS], axis=-1)
