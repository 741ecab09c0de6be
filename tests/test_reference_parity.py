"""Step-for-step parity with the PyTorch reference, pilot-optimizer==0.1.0.post3.

The fixtures are written by tests/fixtures/make_reference.py (torch, run in a
separate environment). Every step's gradients are those the reference saw; we
compare parameters (relative 1e-4) and φ (1e-5) after every step, and the knobs
and ρ each step used.

"Relative" for parameters is relative to the scale of the parameter set (its
largest magnitude at that step), not to each element: an element that passes
near zero keeps the absolute float32 rounding of the steps that brought it
there (both implementations round differently, e.g. pow against exp∘log), so
its own relative error is unbounded while the step-to-step agreement is not.
"""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from pilot_optax import lookahead_objective, pilot

FIXTURES = sorted(Path(__file__).parent.joinpath("fixtures").glob("reference_*.npz"))
LEAVES = ("w", "b", "s")


def _schedule(config):
  if config["schedule"] == "constant":
    return config["learning_rate"]
  return optax.cosine_decay_schedule(
    config["learning_rate"], config["steps"], alpha=config["cosine_alpha"]
  )


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_matches_reference_every_step(path):
  data = np.load(path)
  config = json.loads(str(data["config"]))
  tx = pilot(
    learning_rate=_schedule(config),
    weight_decay=config["weight_decay"],
    gamma=config["gamma"],
    lr_phi=config["lr_phi"],
    degree=config["degree"],
    policy_overrides=config["policy_overrides"],
  )
  params = {k: data[f"init_{k}"] for k in LEAVES}
  state = tx.init(params)

  @jax.jit
  def step(params, state, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  for t in range(config["steps"]):
    grads = {k: data[f"grad_{k}"][t] for k in LEAVES}
    params, state = step(params, state, grads)
    where = f"{path.stem}, step {t + 1}"
    # Knobs and ρ this step used; φ after it.
    np.testing.assert_allclose(
      optax.tree.get(state, "rho"), data["rho"][t], rtol=1e-5, atol=1e-6, err_msg=where
    )
    np.testing.assert_allclose(
      optax.tree.get(state, "policy"), data["policy"][t], rtol=1e-5, atol=1e-6, err_msg=where
    )
    np.testing.assert_allclose(
      optax.tree.get(state, "phi"), data["phi"][t], rtol=1e-5, atol=1e-6, err_msg=where
    )
    scale = max(np.abs(data[f"param_{k}"][t]).max() for k in LEAVES)
    for k in LEAVES:
      np.testing.assert_allclose(
        params[k], data[f"param_{k}"][t], rtol=1e-4, atol=1e-4 * scale, err_msg=f"{where}, {k}"
      )


def test_fixtures_cover_the_required_cases():
  configs = [json.loads(str(np.load(p)["config"])) for p in FIXTURES]
  assert {c["degree"] for c in configs} >= {1, 2, 3}
  assert {c["schedule"] for c in configs} == {"constant", "cosine"}
  assert any(c["policy_overrides"] for c in configs)
  assert any(c["weight_decay"] > 0 for c in configs)
  assert all(c["steps"] >= 100 for c in configs)
  assert any(c.get("loss_scale", 1) >= 1e4 for c in configs)
  # φ must actually move, or the meta-gradient would go untested.
  for p in FIXTURES:
    phi = np.load(p)["phi"]
    assert np.abs(phi[-1] - phi[0]).max() > 1e-3


def test_loss_scale_fixture_clips_the_meta_gradient_every_step():
  # The clip to norm 1 only shows in a run where the meta-gradient exceeds it: at a loss
  # scale of 1e4 it does at every step from the second on, so a wrong clip constant fails
  # test_matches_reference_every_step on this fixture.
  path = next(
    p for p in FIXTURES if json.loads(str(np.load(p)["config"])).get("loss_scale", 1) >= 1e4
  )
  data = np.load(path)
  config = json.loads(str(data["config"]))
  tx = pilot(
    config["learning_rate"], weight_decay=0.0, gamma=config["gamma"], lr_phi=config["lr_phi"]
  )
  params = {k: data[f"init_{k}"] for k in LEAVES}
  state = tx.init(params)

  @jax.jit
  def step(params, state, grads):
    core = state[0]
    meta = jax.grad(lookahead_objective)(
      core.phi, core, grads, config["learning_rate"], b1=0.9, b2=0.999, eps=1e-8, degree=2
    )
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state, jnp.linalg.norm(meta)

  norms = []
  for t in range(config["steps"]):
    params, state, norm = step(params, state, {k: data[f"grad_{k}"][t] for k in LEAVES})
    norms.append(float(norm))
  assert min(norms[1:]) > 1.5, norms[:5]
