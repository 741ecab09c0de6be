"""Optimizer state saved with orbax mid-run continues bit-identically."""

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
from conftest import make_params, quadratic_loss

from pilot_optax import pilot


def test_orbax_round_trip_continues_bit_identically(tmp_path):
  tx = pilot(
    optax.cosine_decay_schedule(0.05, 40),
    weight_decay=1e-2,
    lr_phi=0.1,
    mask=lambda p: jax.tree.map(lambda x: x.ndim > 0, p),
  )

  @jax.jit
  def step(params, state):
    updates, state = tx.update(jax.grad(quadratic_loss)(params), state, params)
    return optax.apply_updates(params, updates), state

  params = make_params(1)
  state = tx.init(params)
  for _ in range(10):
    params, state = step(params, state)

  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(tmp_path / "ckpt", {"params": params, "opt_state": state})
  checkpointer.wait_until_finished()

  # The uninterrupted run.
  p_straight, s_straight = params, state
  for _ in range(15):
    p_straight, s_straight = step(p_straight, s_straight)

  # A fresh process would rebuild the structure with init, then restore into it.
  target = {"params": make_params(1), "opt_state": tx.init(make_params(1))}
  restored = checkpointer.restore(
    tmp_path / "ckpt", jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
  )
  p_resumed, s_resumed = restored["params"], restored["opt_state"]
  assert int(optax.tree.get(s_resumed, "count")) == 10
  for _ in range(15):
    p_resumed, s_resumed = step(p_resumed, s_resumed)

  for a, b in zip(
    jax.tree.leaves((p_straight, s_straight)), jax.tree.leaves((p_resumed, s_resumed)), strict=True
  ):
    np.testing.assert_array_equal(a, b)
