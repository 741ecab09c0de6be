"""PILOT's state, and finding it (and so the learned policies) inside any optimizer state."""

from typing import Any, NamedTuple

import chex
import jax
import optax


class PilotState(NamedTuple):
  """State of :func:`scale_by_pilot`.

  Three buffers the size of the parameters (``mu``, ``nu``, ``prev_grad``) and
  O(degree) scalars. Read a field with ``optax.tree.get(state, name)``.

  Attributes:
    count: steps taken; shape (), int32.
    mu: m, the first moment, in ``mu_dtype`` (default: the params' dtype).
    nu: v, the second moment, in the params' dtype.
    prev_grad: :math:`g_{t-1}`, the gradient of the last step.
    rho: the smoothed agreement ρ; shape (), float32.
    phi: the policy's coefficients φ, three blocks of ``degree + 1``, highest
      power first; shape (3 (degree + 1),), float32.
    policy: the knobs :math:`(p_m, p_v, p_s)` the last step used; shape (3,),
      float32.
  """

  count: chex.Array  # shape=(), dtype=jnp.int32: steps taken.
  mu: optax.Updates  # m, first moment, in mu_dtype (default: the params').
  nu: optax.Updates  # v, second moment, in the params' dtype.
  prev_grad: optax.Updates  # g_{t-1}, the gradient of the last step.
  rho: chex.Array  # shape=(), dtype=jnp.float32: smoothed agreement ρ.
  phi: chex.Array  # shape=(3 * (degree + 1),), dtype=jnp.float32: policy φ.
  policy: chex.Array  # shape=(3,), dtype=jnp.float32: (p_m, p_v, p_s) last used.


def pilot_states(opt_state: Any) -> dict[str, PilotState]:
  """Every :class:`PilotState` inside an optimizer state, keyed by its path.

  ``optax.tree.get(opt_state, 'phi')`` works when the chain holds one
  ``pilot``; with several (``optax.partition``, one policy per parameter group)
  it raises "Found multiple values". This returns each of them, keyed by the
  path of the state in the tree, with ``/`` between the keys: under
  ``optax.partition`` the path holds the group's label.

  Args:
    opt_state: an optimizer state (any pytree), e.g. ``tx.init(params)``, or
      ``optimizer.opt_state`` of a ``flax.nnx.Optimizer`` as it is (plain or
      under ``optax.partition``): its variables are read for their values.

  Returns:
    ``{path: state}`` in tree order, each field a plain array (or
    ``optax.MaskedNode``); ``state.rho``, ``state.policy`` (p_m, p_v, p_s of
    the last step) and ``state.phi`` are the group's policy.

  Example:
    >>> import jax.numpy as jnp, optax
    >>> from pilot_optax import pilot, pilot_states
    >>> params = {"conv": jnp.ones(3), "head": jnp.ones(2)}
    >>> tx = optax.partition({"conv": pilot(), "head": pilot(degree=1)},
    ...                      {"conv": "conv", "head": "head"})
    >>> sorted(pilot_states(tx.init(params)))
    ['inner_states/conv/inner_state/0', 'inner_states/head/inner_state/0']
  """
  found = jax.tree_util.tree_flatten_with_path(
    opt_state, is_leaf=lambda x: isinstance(x, PilotState)
  )[0]
  return {
    jax.tree_util.keystr(path, simple=True, separator="/"): jax.tree.map(
      _value, leaf, is_leaf=_is_variable
    )
    for path, leaf in found
    if isinstance(leaf, PilotState)
  }


def _is_variable(x: Any) -> bool:
  # A flax.nnx.Variable (nnx.Optimizer wraps each state leaf in one), recognised by its
  # accessor so that pilot_optax need not import flax.
  return callable(getattr(x, "get_value", None))


def _value(x: Any) -> Any:
  return x.get_value() if _is_variable(x) else x
