"""The registry's follow-up entries (benchmarks.optimizers) against optax and their closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from benchmarks.optimizers import REGISTRY, resolve

SIGMOID = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
FROZEN = {"pm": SIGMOID(1.4), "pv": 0.5 * SIGMOID(3.0), "ps": SIGMOID(-2.0)}


def _gradients(steps=6, seed=0):
  rng = np.random.default_rng(seed)
  return [rng.normal(size=(4, 3)).astype(np.float32) * (1 + t) for t in range(steps)]


def _updates(tx, params, gradients):
  state, out = tx.init(params), []
  for g in gradients:
    update, state = tx.update(jnp.asarray(g), state, params)
    params = params + update
    out.append(np.asarray(update))
  return out


def test_nadamw_entry_is_optax_nadamw_with_adamw_settings():
  made = resolve("nadamw", "bible", "transformer", 3e-3)
  assert made.hyperparameters["weight_decay"] == REGISTRY["adamw"].weight_decay == 1e-2
  schedule = optax.cosine_decay_schedule(3e-3, 10)
  params = jnp.ones((4, 3))
  ours = _updates(made.make(schedule), params, _gradients())
  theirs = _updates(optax.nadamw(schedule, weight_decay=1e-2), params, _gradients())
  np.testing.assert_array_equal(np.stack(ours), np.stack(theirs))
  # and it is not AdamW: the Nesterov blend changes the step
  adamw = _updates(optax.adamw(schedule, weight_decay=1e-2), params, _gradients())
  assert np.abs(np.stack(ours) - np.stack(adamw)).max() > 1e-5


def test_adamw_b2_entry_is_optax_adamw_with_b2_095_recorded():
  made = resolve("adamw_b2_095", "bible", "transformer", 1e-2)
  assert made.hyperparameters == {"peak_learning_rate": 1e-2, "weight_decay": 1e-2, "b2": 0.95}
  schedule = optax.cosine_decay_schedule(1e-2, 10)
  params = jnp.ones((4, 3))
  ours = np.stack(_updates(made.make(schedule), params, _gradients()))
  theirs = _updates(optax.adamw(schedule, b2=0.95, weight_decay=1e-2), params, _gradients())
  np.testing.assert_array_equal(ours, np.stack(theirs))
  # b2 reaches optax: AdamW's default 0.999 gives other steps
  default = _updates(optax.adamw(schedule, weight_decay=1e-2), params, _gradients())
  assert np.abs(ours - np.stack(default)).max() > 1e-5
  assert "b2" not in resolve("adamw", "bible", "transformer").hyperparameters


def _closed_form(knobs, gradients, params, lr, wd, b1=0.9, b2=0.999, eps=1e-8):
  """AdamW's moments, then PILOT's direction at constant knobs, in float64."""
  m = v = np.zeros_like(params, np.float64)
  theta, out = params.astype(np.float64), []
  for t, g in enumerate(gradients, start=1):
    m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    n = knobs["pm"] * m_hat + (1 - knobs["pm"]) * g
    u = (
      np.maximum(np.abs(n), 1e-12) ** (1 - knobs["ps"]) * np.sign(n) / (v_hat ** knobs["pv"] + eps)
    )
    update = -lr * u - lr * wd * theta
    theta = theta + update
    out.append(update)
  return out


@pytest.mark.parametrize("knob", ["pm", "pv", "ps"])
def test_one_knob_entries_are_adamw_with_that_frozen_knob(knob):
  made = resolve(f"pilot_{knob}", "bible", "transformer", 1e-2)
  hp = made.hyperparameters
  assert hp["lr_phi"] == 0 and hp["weight_decay"] == 1e-2
  knobs = {"pm": 1.0, "pv": 0.5, "ps": 0.0} | {knob: FROZEN[knob]}
  params = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
  ours = _updates(made.make(optax.constant_schedule(1e-2)), jnp.asarray(params), _gradients())
  expected = _closed_form(knobs, _gradients(), params, 1e-2, 1e-2)
  np.testing.assert_allclose(np.stack(ours), np.stack(expected), rtol=2e-5, atol=1e-9)
  # the frozen knob differs from Adam's value enough for the test to tell them apart
  adam = _closed_form({"pm": 1.0, "pv": 0.5, "ps": 0.0}, _gradients(), params, 1e-2, 1e-2)
  assert np.abs(np.stack(adam) - np.stack(expected)).max() > 1e-4


def test_all_three_pinned_at_adams_values_is_adamw():
  # The one-knob variants start from this point: with nothing switched on they are AdamW.
  from pilot_optax import pilot

  params = jnp.asarray(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
  pinned = pilot(3e-3, weight_decay=1e-2, lr_phi=0.0,
                 policy_overrides={"pm": 1.0, "pv": 0.5, "ps": 0.0})  # fmt: skip
  ours = _updates(pinned, params, _gradients())
  theirs = _updates(optax.adamw(3e-3, weight_decay=1e-2), params, _gradients())
  np.testing.assert_allclose(np.stack(ours), np.stack(theirs), rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize(
  ("name", "weight_decay", "like"),
  [("adamw_wd_pilot", 1e-4, "adamw"), ("pilot_frozen_wd_adamw", 1e-2, "pilot_frozen")],
)
def test_weight_decay_swaps_differ_only_in_weight_decay(name, weight_decay, like):
  ours = resolve(name, "bible", "transformer", 3e-3).hyperparameters
  theirs = resolve(like, "bible", "transformer", 3e-3).hyperparameters
  assert ours == theirs | {"weight_decay": weight_decay}
  assert REGISTRY[name].ablation and jax.tree.structure(ours) == jax.tree.structure(theirs)
