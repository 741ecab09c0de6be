"""Properties of `pilot` / `scale_by_pilot` inside the optax ecosystem."""

import importlib.resources
import inspect

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import enable_x64, make_params, quadratic_loss, run

from pilot_optax import (
  PilotState,
  _fusion,
  init_phi,
  pilot,
  pilot_states,
  policy_knobs,
  scale_by_pilot,
)


def assert_trees_close(a, b, rtol=1e-6, atol=1e-7):
  chex.assert_trees_all_close(a, b, rtol=rtol, atol=atol)


# --- the algorithm's special cases, against optax itself -----------------------------------


def test_pinned_at_adam_equals_optax_adamw(params):
  mask = {"w": True, "b": False, "s": True}
  ours = pilot(
    0.05, weight_decay=0.1, mask=mask, policy_overrides={"pm": 1.0, "pv": 0.5, "ps": 0.0}
  )
  theirs = optax.adamw(0.05, weight_decay=0.1, mask=mask)
  p_ours, _ = run(ours, params, 60)
  p_theirs, _ = run(theirs, params, 60)
  assert_trees_close(p_ours, p_theirs, rtol=2e-5, atol=2e-6)
  # And it really moved: this is not a comparison of two frozen trees.
  assert float(optax.tree.norm(optax.tree.sub(p_ours, params))) > 1.0


def test_sign_of_momentum_steps_have_size_learning_rate(params):
  tx = pilot(0.01, eps=0.0, weight_decay=0.0, policy_overrides={"pm": 1.0, "pv": 0.0, "ps": 1.0})
  state = tx.init(params)
  for i in range(5):
    grads = jax.grad(quadratic_loss)(params)
    updates, state = tx.update(grads, state, params)
    for u in jax.tree.leaves(updates):
      np.testing.assert_allclose(np.abs(u), 0.01, rtol=1e-6, err_msg=f"step {i}")
    params = optax.apply_updates(params, updates)


def test_initial_state(params):
  state = scale_by_pilot(degree=3).init(params)
  assert isinstance(state, PilotState)
  np.testing.assert_array_equal(state.phi, np.float32([0, 0, 0, 1.4, 0, 0, 0, 3.0, 0, 0, 0, -2.0]))
  np.testing.assert_allclose(state.policy, [0.80218389, 0.47628725, 0.11920292], rtol=1e-6)
  assert state.count.dtype == jnp.int32 and state.rho.dtype == jnp.float32


def test_state_fields_readable_with_optax_tree_get(params):
  tx = pilot(
    optax.cosine_decay_schedule(1e-2, 100),
    degree=2,
    mask=lambda p: jax.tree.map(lambda x: x.ndim > 1, p),
  )
  _, state = run(tx, params, 3)
  assert int(optax.tree.get(state, "count")) == 3
  assert optax.tree.get(state, "phi").shape == (9,)
  assert optax.tree.get(state, "policy").shape == (3,)
  assert optax.tree.get(state, "rho").shape == ()
  for name in ("mu", "nu", "prev_grad"):
    chex.assert_trees_all_equal_shapes(optax.tree.get(state, name), params)


def test_exactly_three_parameter_sized_buffers(params):
  state = pilot().init(params)
  param_bytes = sum(x.nbytes for x in jax.tree.leaves(params))
  for name in ("mu", "nu", "prev_grad"):
    assert sum(x.nbytes for x in jax.tree.leaves(optax.tree.get(state, name))) == param_bytes
  small_bytes = sum(x.nbytes for x in jax.tree.leaves(state)) - 3 * param_bytes
  assert small_bytes == 4 * (1 + 1 + 9 + 3)  # count, rho, phi, policy
  state16 = pilot(mu_dtype=jnp.bfloat16).init(params)
  assert sum(x.nbytes for x in jax.tree.leaves(state16)) - small_bytes == 2.5 * param_bytes


def test_policy_is_learned_and_logged(params):
  _, state = run(pilot(0.05, lr_phi=0.05), params, 30)
  phi = optax.tree.get(state, "phi")
  assert np.abs(phi - init_phi(2)).max() > 1e-3
  expected = policy_knobs(phi, optax.tree.get(state, "rho"))
  # The logged policy is the one the last step used: from φ before its update.
  assert not np.allclose(optax.tree.get(state, "policy"), policy_knobs(init_phi(2), 0.0))
  assert optax.tree.get(state, "policy").shape == expected.shape


@pytest.mark.parametrize("loss_name", ["parabola", "rosenbrock"])
def test_converges(loss_name):
  if loss_name == "parabola":
    loss, start, target, lr, steps = (
      (lambda p: jnp.sum((p - 3.0) ** 2)),
      jnp.zeros(4),
      3.0,
      0.1,
      300,
    )
  else:
    loss = lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2  # noqa: E731
    start, target, lr, steps = jnp.array([-1.0, 1.0]), 1.0, 0.02, 3000
  params, _ = run(pilot(lr, weight_decay=0.0), start, steps, loss=loss)
  np.testing.assert_allclose(params, target, atol=3e-2)


def test_zero_gradients_stay_finite(params):
  tx = pilot(1e-3)
  state = tx.init(params)
  zeros = jax.tree.map(jnp.zeros_like, params)
  update = jax.jit(tx.update)
  for _ in range(50):
    updates, state = update(zeros, state, params)
  assert all(np.isfinite(x).all() for x in jax.tree.leaves((updates, state)))
  # Zero gradient and zero decay: nothing moves.
  _, state0 = tx.init(params), tx.init(params)
  updates, _ = pilot(1e-3, weight_decay=0.0).update(zeros, state0, params)
  assert all(np.all(u == 0) for u in jax.tree.leaves(updates))


def test_zero_gradients_with_eps_zero_stay_finite(params):
  tx = pilot(1e-3, eps=0.0)
  state = tx.init(params)
  zeros = jax.tree.map(jnp.zeros_like, params)
  for _ in range(3):
    updates, state = tx.update(zeros, state, params)
  assert all(np.isfinite(x).all() for x in jax.tree.leaves((updates, state)))


# --- jit, vmap and the optax wrappers ------------------------------------------------------


def test_jit_traces_once(params):
  tx = pilot(optax.linear_schedule(1e-2, 1e-3, 10))
  traces = []

  @jax.jit
  def step(params, state):
    traces.append(1)
    updates, state = tx.update(jax.grad(quadratic_loss)(params), state, params)
    return optax.apply_updates(params, updates), state

  state = tx.init(params)
  for _ in range(4):
    params, state = step(params, state)
  assert len(traces) == 1


def test_vmap_over_seeds_equals_separate_runs():
  tx = pilot(0.05)
  stacked = jax.vmap(make_params)(jnp.arange(3))
  state = jax.vmap(tx.init)(stacked)

  def step(params, state):
    updates, state = tx.update(jax.grad(quadratic_loss)(params), state, params)
    return optax.apply_updates(params, updates), state

  vstep = jax.jit(jax.vmap(step))
  for _ in range(10):
    stacked, state = vstep(stacked, state)
  for seed in range(3):
    single, single_state = run(tx, make_params(seed), 10)
    assert_trees_close(jax.tree.map(lambda x, i=seed: x[i], stacked), single, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state[0].phi[seed], single_state[0].phi, rtol=1e-5, atol=1e-7)


def test_inject_hyperparams_gives_the_same_updates(params):
  kwargs = dict(learning_rate=0.02, weight_decay=1e-3, gamma=0.9, lr_phi=0.05, degree=3)
  injected = optax.inject_hyperparams(pilot, static_args=("degree",))(**kwargs)
  p_plain, s_plain = run(pilot(**kwargs), params, 15)
  p_inj, s_inj = run(injected, params, 15)
  # Equal up to float32 rounding: python floats and float32 arrays round 1 - b1 differently.
  assert_trees_close(p_plain, p_inj, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(s_plain[0].phi, s_inj.inner_state[0].phi, rtol=1e-5, atol=1e-6)
  # A hyperparameter can be changed in the state, as inject_hyperparams promises.
  s_inj.hyperparams["learning_rate"] = jnp.asarray(0.0)
  updates, _ = injected.update(
    jax.tree.map(jnp.ones_like, params), s_inj, jax.tree.map(jnp.zeros_like, params)
  )
  assert all(np.all(u == 0) for u in jax.tree.leaves(updates))


def test_schedule_that_is_constant_equals_float(params):
  p_float, _ = run(pilot(0.03), params, 10)
  p_sched, _ = run(pilot(optax.constant_schedule(0.03)), params, 10)
  assert_trees_close(p_float, p_sched, rtol=0, atol=0)


def test_schedule_is_read_at_count_before_increment(params):
  # A schedule that is 0 at step 0: the first update must be exactly zero.
  tx = pilot(lambda count: 0.1 * count, weight_decay=0.0)
  state = tx.init(params)
  grads = jax.grad(quadratic_loss)(params)
  updates, state = tx.update(grads, state, params)
  assert all(np.all(u == 0) for u in jax.tree.leaves(updates))
  updates, _ = tx.update(grads, state, params)
  assert all(np.any(u != 0) for u in jax.tree.leaves(updates))


def test_multisteps_accumulates(params):
  ms = optax.MultiSteps(pilot(0.05), every_k_schedule=2)
  state = ms.init(params)
  g1 = jax.grad(quadratic_loss)(params)
  g2 = jax.tree.map(lambda g: -0.5 * g + 0.1, g1)
  u1, state = ms.update(g1, state, params)
  assert all(np.all(u == 0) for u in jax.tree.leaves(u1))
  u2, state = ms.update(g2, state, params)
  ref_updates, _ = pilot(0.05).update(
    jax.tree.map(lambda a, b: (a + b) / 2, g1, g2), pilot(0.05).init(params), params
  )
  assert_trees_close(u2, ref_updates)


def test_apply_if_finite_skips_bad_steps(params):
  tx = optax.apply_if_finite(pilot(0.05), max_consecutive_errors=3)
  state = tx.init(params)
  grads = jax.grad(quadratic_loss)(params)
  _, state = tx.update(grads, state, params)
  bad = jax.tree.map(lambda g: g.at[...].set(jnp.nan), grads)
  updates, bad_state = tx.update(bad, state, params)
  assert all(np.all(u == 0) for u in jax.tree.leaves(updates))
  chex.assert_trees_all_equal(bad_state.inner_state, state.inner_state)
  assert int(bad_state.notfinite_count) == 1


def test_partition_gives_one_policy_per_group(params):
  labels = {"w": "matrix", "b": "vector", "s": "vector"}
  tx = optax.partition(
    {"matrix": pilot(0.05, lr_phi=0.1), "vector": pilot(0.05, lr_phi=0.1)}, labels
  )
  p_part, state = run(tx, params, 20)
  # The same as two independent optimizers, each on its own group.
  p_w, s_w = run(pilot(0.05, lr_phi=0.1), {"w": params["w"]}, 20)
  p_bs, s_bs = run(pilot(0.05, lr_phi=0.1), {"b": params["b"], "s": params["s"]}, 20)
  assert_trees_close(p_part, {**p_w, **p_bs}, rtol=1e-5, atol=1e-6)
  phis = [s.inner_state[0].phi for s in state.inner_states.values()]
  assert not np.allclose(phis[0], phis[1])
  np.testing.assert_allclose(state.inner_states["matrix"].inner_state[0].phi, s_w[0].phi, rtol=1e-5)


def test_chain_after_clipping_equals_clipped_gradients(params):
  tx = optax.chain(optax.clip_by_global_norm(0.1), pilot(0.05))
  state = tx.init(params)
  grads = jax.grad(quadratic_loss)(params)
  updates, _ = tx.update(grads, state, params)
  clipped = jax.tree.map(lambda g: g * 0.1 / optax.tree.norm(grads), grads)
  expected, _ = pilot(0.05).update(clipped, pilot(0.05).init(params), params)
  assert_trees_close(updates, expected)


def test_extra_args_are_accepted(params):
  tx = optax.chain(optax.clip_by_global_norm(1.0), pilot())
  state = tx.init(params)
  grads = jax.grad(quadratic_loss)(params)
  tx.update(grads, state, params, value=jnp.float32(1.0), grad_fn=None)
  scale_by_pilot().update(grads, scale_by_pilot().init(params), params, value=1.0)


def test_none_and_masked_leaves():
  params = {"a": jnp.ones(3), "frozen": None, "b": jnp.ones((2, 2))}
  tx = pilot(0.1)
  grads = {"a": jnp.full(3, 0.5), "frozen": None, "b": jnp.full((2, 2), -0.5)}
  updates, state = jax.jit(tx.update)(grads, tx.init(params), params)
  assert updates["frozen"] is None and state[0].mu["frozen"] is None
  masked = optax.masked(pilot(0.1), {"a": True, "frozen": False, "b": False})
  params = {"a": jnp.ones(3), "frozen": jnp.ones(2), "b": jnp.ones((2, 2))}
  grads = jax.tree.map(jnp.ones_like, params)
  updates, _ = masked.update(grads, masked.init(params), params)
  np.testing.assert_array_equal(updates["b"], grads["b"])  # passed through untouched
  assert np.all(updates["a"] < 0)


def test_weight_decay_mask(params):
  grads = jax.grad(quadratic_loss)(params)
  tx = pilot(0.1, weight_decay=0.5, mask={"w": True, "b": False, "s": False})
  decayed, _ = tx.update(grads, tx.init(params), params)
  plain, _ = pilot(0.1, weight_decay=0.0).update(grads, pilot().init(params), params)
  np.testing.assert_allclose(
    decayed["w"], plain["w"] - 0.1 * 0.5 * params["w"], rtol=1e-6, atol=1e-7
  )
  np.testing.assert_array_equal(decayed["b"], plain["b"])


# --- dtypes ---------------------------------------------------------------------------------


def test_bf16_params_keep_dtypes():
  params = make_params(dtype=jnp.bfloat16)
  tx = pilot(0.05)
  state = tx.init(params)
  init_dtypes = jax.tree.map(lambda x: x.dtype, state)
  params_after, state = run(tx, params, 5)
  chex.assert_trees_all_equal_dtypes(params_after, params)
  assert jax.tree.map(lambda x: x.dtype, state) == init_dtypes
  updates, _ = tx.update(jax.grad(quadratic_loss)(params), state, params)
  chex.assert_trees_all_equal_dtypes(updates, params)
  assert state[0].phi.dtype == jnp.float32 and state[0].rho.dtype == jnp.float32


def test_bf16_agreement_accumulates_in_float32():
  # 2**16 equal bf16 elements: a bf16 running sum would stall at 256 (its
  # mantissa), a float32 sum is exact. The cosine of g with itself must be 1.
  n = 2**16
  params = {"x": jnp.zeros(n, jnp.bfloat16)}
  tx = scale_by_pilot(gamma=0.0)
  g = {"x": jnp.ones(n, jnp.bfloat16)}
  _, state = tx.update(g, tx.init(params))
  _, state = tx.update(g, state)
  np.testing.assert_allclose(state.rho, 1.0, rtol=1e-6)


def test_mu_dtype(params):
  tx = pilot(0.05, mu_dtype=jnp.bfloat16)
  _, state = run(tx, params, 3)
  assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(state[0].mu))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state[0].nu))


def test_state_dtypes_stable_inside_lax_cond(params):
  tx = pilot(optax.cosine_decay_schedule(0.1, 10))
  state = tx.init(params)
  grads = jax.grad(quadratic_loss)(params)

  @jax.jit
  def maybe_step(flag, state):
    return jax.lax.cond(flag, lambda s: tx.update(grads, s, params)[1], lambda s: s, state)

  state = maybe_step(True, state)
  maybe_step(False, state)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
  "kwargs, name",
  [
    (dict(learning_rate=-1e-3), "learning_rate"),
    (dict(b1=1.0), "b1"),
    (dict(b1=-0.1), "b1"),
    (dict(b2=1.5), "b2"),
    (dict(gamma=1.0), "gamma"),
    (dict(gamma=float("nan")), "gamma"),
    (dict(eps=-1e-8), "eps"),
    (dict(lr_phi=-0.01), "lr_phi"),
    (dict(weight_decay=-1e-4), "weight_decay"),
    (dict(degree=0), "degree"),
    (dict(policy_overrides={"pq": 0.5}), "pq"),
    (dict(policy_overrides={"pv": 0.7}), "pv"),
    (dict(policy_overrides={"pm": -0.1}), "pm"),
    (dict(policy_overrides=[("pm", 1.0)]), "policy_overrides"),
    # Infinite values: optax.adamw takes them and its parameters become NaN; we refuse them.
    (dict(learning_rate=float("inf")), "learning_rate"),
    (dict(eps=float("inf")), "eps"),
    (dict(lr_phi=float("inf")), "lr_phi"),
    (dict(weight_decay=float("inf")), "weight_decay"),
    (dict(b2=float("-inf")), "b2"),
    (dict(learning_rate=np.float32("inf")), "learning_rate"),
    (dict(policy_overrides={"ps": float("inf")}), "ps"),
  ],
)
def test_bad_hyperparameters_raise(kwargs, name):
  with pytest.raises(ValueError, match=name):
    pilot(**kwargs)


def test_unbounded_ranges_do_not_offer_inf():
  with pytest.raises(ValueError, match="learning_rate") as raised:
    pilot(float("inf"))
  assert "a finite number >= 0.0" in str(raised.value)
  assert "inf]" not in str(raised.value)


def test_range_messages_name_the_range():
  with pytest.raises(ValueError, match=r"\[0.0, 1.0\)"):
    pilot(gamma=1.2)


def test_traced_hyperparameters_are_not_checked(params):
  # inject_hyperparams passes arrays (traced under jit): construction must not fail.
  tx = optax.inject_hyperparams(pilot, static_args=("degree",))(learning_rate=0.01)
  state = tx.init(params)
  jax.jit(tx.update)(jax.grad(quadratic_loss)(params), state, params)


def test_mismatched_gradient_tree_raises(params):
  tx = pilot()
  state = tx.init(params)
  with pytest.raises(ValueError, match="does not match"):
    tx.update({"w": params["w"]}, state, params)
  with pytest.raises(ValueError, match="shape"):
    tx.update({**params, "b": jnp.ones(4)}, state, params)


def test_frozen_policy_shortcut_changes_nothing(params):
  # lr_phi = 0 as a Python float skips the lookahead; as a traced value (inject_hyperparams) it
  # is computed and multiplied by 0. Both must give the same run.
  skipped, s_skipped = run(pilot(0.05, lr_phi=0.0), params, 8)
  traced, s_traced = run(
    optax.inject_hyperparams(pilot, static_args=("degree",))(0.05, lr_phi=0.0), params, 8
  )
  assert_trees_close(skipped, traced, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(s_skipped[0].phi, init_phi(2))
  pinned, _ = run(pilot(0.05, policy_overrides={"pm": 0.9, "pv": 0.4, "ps": 0.1}), params, 3)
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(pinned))


def test_step_makes_no_host_transfers(params):
  tx = pilot(optax.cosine_decay_schedule(1e-2, 100), weight_decay=1e-3)
  state = tx.init(params)
  grads = jax.grad(quadratic_loss)(params)
  step = jax.jit(tx.update)
  step(grads, state, params)  # compile outside the guard
  with jax.transfer_guard("disallow"):
    for _ in range(3):
      updates, state = step(grads, state, params)
    jax.block_until_ready(updates)


def _compiled_step(tx, shapes, dtype=jnp.float32):
  """The jitted training step (update + apply, params and state donated), compiled for shapes."""

  def step(params, state, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  params = [jax.ShapeDtypeStruct(s, dtype) for s in shapes]
  state = jax.eval_shape(tx.init, params)
  return jax.jit(step, donate_argnums=(0, 1)).lower(params, state, params).compile()


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA:CPU fusion behaviour")
def test_step_scratch_memory_does_not_grow_with_the_parameters():
  # The step's sums sweep the parameters in chunks of _fusion.CHUNK elements,
  # whose shared intermediates live in chunk-sized buffers, and m, v, g_prev
  # are updated in place: the compiled step's scratch memory is a few chunks,
  # whatever the size of the parameters. (Summing whole leaves materialised
  # the shared logarithms and powers at the parameters' size; computing the
  # meta-gradient with jax.grad allocated ~10x the parameters.)
  tx = pilot(1e-3)

  def scratch_bytes(shapes):
    return _compiled_step(tx, shapes).memory_analysis().temp_size_in_bytes

  small = scratch_bytes([(2048, 2048), (512,), (64, 3, 3, 3)])
  large = scratch_bytes([(4096, 4096), (512,), (64, 3, 3, 3)])
  assert large == small
  assert large < 12 * _fusion.CHUNK * 4  # a dozen float32 chunks; 64 MB of params


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA:CPU copy insertion")
@pytest.mark.skipif(
  jax.__version_info__ < (0, 10),
  reason="an optimisation of XLA's copy insertion: jaxlib 0.10 updates 16-bit state in place, "
  "0.6.0 and 0.7.0 copy it (the step is still right; measured in CI's floors environment)",
)
@pytest.mark.parametrize(
  ("param_dtype", "mu_dtype"),
  [(jnp.float32, None), (jnp.float32, jnp.bfloat16), (jnp.bfloat16, None)],
)
def test_donated_state_is_updated_in_place(param_dtype, mu_dtype):
  # No parameter-sized copy in the compiled step: m, v and g_prev are written
  # over their donated buffers after every read of the old values. (With a
  # 16-bit m the direction once recomputed the unrounded m from the old one,
  # which forced a copy of m.)
  compiled = _compiled_step(pilot(1e-3, mu_dtype=mu_dtype), [(3000, 1000)], param_dtype)
  hlo = compiled.as_text()
  copies = [line for line in hlo.splitlines() if " copy(" in line and "3000,1000]" in line]
  assert not copies, copies


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA:CPU fusion behaviour")
def test_bfloat16_step_scratch_is_a_copy_of_the_state_bits_at_most():
  # XLA:CPU computes bfloat16 in float32, slices included, so the sweep slices
  # bfloat16 leaves as 16-bit integers: the scratch holds their bit copies
  # (4 x 2 bytes per parameter) and chunks, not float32 copies (4 x 4 bytes)
  # and the whole-leaf intermediates (9.6x the parameter bytes before).
  shapes = [(2048, 2048), (512,)]
  compiled = _compiled_step(pilot(1e-3), shapes, jnp.bfloat16)
  param_bytes = sum(np.prod(s) * 2 for s in shapes)
  assert compiled.memory_analysis().temp_size_in_bytes < 5 * param_bytes


# --- trees without leaves, dtypes PILOT cannot train, wrong types ---------------------------------


@pytest.mark.parametrize(
  "make_tx, params",
  [
    (lambda: pilot(0.1), {}),
    (lambda: optax.masked(pilot(0.1), {"w": False}), {"w": jnp.ones(3)}),
    (
      lambda: optax.partition({"a": pilot(0.1), "b": optax.adam(1e-3)}, {"w": "b"}),
      {"w": jnp.ones(3)},
    ),
  ],
  ids=["empty", "masked-all-false", "partition-empty-group"],
)
def test_a_pilot_without_leaves_steps_like_adam(make_tx, params):
  tx = make_tx()
  grads = jax.tree.map(jnp.ones_like, params)
  state = tx.init(params)
  for _ in range(3):
    updates, state = jax.jit(tx.update)(grads, state, params)
  reference, _ = make_tx().update(grads, make_tx().init(params), params)
  assert jax.tree.structure(updates) == jax.tree.structure(reference)
  (pilot_state,) = pilot_states(state).values()
  assert int(pilot_state.count) == 3
  assert float(pilot_state.rho) == 0.0  # no gradient, no agreement
  np.testing.assert_array_equal(pilot_state.phi, init_phi(2))
  np.testing.assert_allclose(pilot_state.policy, policy_knobs(init_phi(2), 0.0), rtol=1e-7)


@pytest.mark.parametrize(
  "params, match",
  [
    (jnp.array([5, 5]), r"\(root\) has dtype int32.*not floating"),
    ({"a": {"b": jnp.ones(2, jnp.bool_)}}, r"\['a'\]\['b'\] has dtype bool"),
    ({"w": jnp.ones(2), "z": jnp.ones(2, jnp.complex64)}, r"\['z'\] has dtype complex64.*complex"),
  ],
)
def test_leaves_that_are_not_real_floats_raise_at_init(params, match):
  with pytest.raises(ValueError, match=match):
    pilot(1e-3).init(params)


def test_integer_mu_dtype_raises():
  with pytest.raises(ValueError, match="mu_dtype"):
    pilot(mu_dtype=jnp.int32)


@pytest.mark.parametrize(
  "kwargs, name",
  [
    (dict(learning_rate="1e-3"), "learning_rate.*or an optax schedule"),
    (dict(b1="0.9"), "b1"),
    (dict(eps=None), "eps"),
    (dict(gamma=[0.9, 0.9]), "gamma"),
    (dict(weight_decay=True), "weight_decay"),
    (dict(lr_phi=jnp.ones(2)), "lr_phi"),
    (dict(eps=np.array([1e-8])), "eps.*shape"),
    (dict(policy_overrides={"pm": "1"}), "policy_overrides"),
    (dict(degree=2.0), "degree must be an integer"),
    (dict(degree=jnp.float32(2.0)), "degree must be an integer"),
    (dict(degree=np.bool_(True)), "degree"),
    (dict(degree=True), "degree"),
  ],
)
def test_hyperparameters_of_the_wrong_type_raise_naming_them(kwargs, name):
  with pytest.raises(TypeError, match=name):
    pilot(**kwargs)


def test_numpy_and_jax_scalars_are_accepted(params):
  tx = pilot(np.float32(1e-3), b1=jnp.asarray(0.9), eps=np.array(1e-8), degree=2)
  tx.update(jax.grad(quadratic_loss)(params), tx.init(params), params)


def test_numpy_integer_degree_is_an_integer(params):
  ours = pilot(1e-3, degree=np.int64(3))
  state = ours.init(params)
  assert state[0].phi.shape == (12,)
  expected = pilot(1e-3, degree=3)
  grads = jax.grad(quadratic_loss)(params)
  chex.assert_trees_all_close(
    ours.update(grads, state, params)[0], expected.update(grads, state, params)[0]
  )


@pytest.mark.parametrize("make", [pilot, scale_by_pilot])
def test_everything_after_eps_is_keyword_only(make):
  # optax.adamw(1e-3, .9, .999, 1e-8, 0.01) means eps_root=0.01; ours must not mean weight_decay.
  with pytest.raises(TypeError, match="positional"):
    make(1e-3, 0.9, 0.999, 1e-8, 0.01)
  parameters = inspect.signature(make).parameters
  positional = [n for n, p in parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
  assert positional == ["learning_rate", "b1", "b2", "eps"]


def test_annotations_are_objects_at_run_time():
  # Tools that introspect optimizers (optax's own tests) read these to find schedules.
  signature = inspect.signature(pilot)
  assert signature.parameters["learning_rate"].annotation is optax.ScalarOrSchedule
  assert inspect.signature(scale_by_pilot).parameters["degree"].annotation is int


def test_package_ships_py_typed():
  assert importlib.resources.files("pilot_optax").joinpath("py.typed").is_file()


# --- the extremes: scales where a wrong constant shows --------------------------------------------

ADAM_KNOBS = {"pm": 1.0, "pv": 0.5, "ps": 0.0}


@pytest.mark.parametrize(
  "grad_scale, eps",
  [(1e-8, 1e-8), (1e-8, 0.0), (1.0, 0.1), (1e3, 0.1)],
  ids=["tiny-grads", "tiny-grads-eps0", "large-eps", "large-grads-large-eps"],
)
def test_adam_special_case_at_extreme_scales_equals_optax(grad_scale, eps):
  # Gradients of 1e-8 sit far above the 1e-12 floor of |n| and make v̂^½ comparable with
  # ε; ε = 0.1 dominates the denominator. A floor, ε placed inside the power, or a wrong
  # bias correction gives other steps.
  rng = np.random.default_rng(0)
  params = {"w": jnp.asarray(rng.standard_normal((4, 3)), jnp.float32)}
  ours = pilot(0.1, eps=eps, weight_decay=0.0, policy_overrides=ADAM_KNOBS)
  theirs = optax.adam(0.1, eps=eps)
  s_ours, s_theirs = ours.init(params), theirs.init(params)
  for t in range(5):
    grads = {"w": jnp.asarray(grad_scale * rng.standard_normal((4, 3)), jnp.float32)}
    u_ours, s_ours = ours.update(grads, s_ours, params)
    u_theirs, s_theirs = theirs.update(grads, s_theirs, params)
    np.testing.assert_allclose(u_ours["w"], u_theirs["w"], rtol=1e-5, atol=0, err_msg=f"step {t}")


def test_float64_leaves_under_x64_compute_in_float64():
  with enable_x64(True):
    rng = np.random.default_rng(1)
    params = {"w": jnp.asarray(rng.standard_normal((5, 2)))}
    assert params["w"].dtype == jnp.float64
    ours = pilot(0.1, weight_decay=0.0, policy_overrides=ADAM_KNOBS)
    theirs = optax.adam(0.1)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    for _ in range(4):
      grads = {"w": jnp.asarray(rng.standard_normal((5, 2)) * 1e-3)}
      u_ours, s_ours = ours.update(grads, s_ours, params)
      u_theirs, s_theirs = theirs.update(grads, s_theirs, params)
      # Float64 agreement: a float32 round trip anywhere would leave ~1e-8 here.
      np.testing.assert_allclose(u_ours["w"], u_theirs["w"], rtol=1e-12)
    state = s_ours[0]
    assert u_ours["w"].dtype == jnp.float64
    assert {x.dtype for x in (state.mu["w"], state.nu["w"], state.prev_grad["w"])} == {
      jnp.dtype(jnp.float64)
    }
    # The documented scalar dtypes: count int32, rho, phi and policy float32.
    assert state.count.dtype == jnp.int32
    assert {state.rho.dtype, state.phi.dtype, state.policy.dtype} == {jnp.dtype(jnp.float32)}
    # The learned path in float64 too (finite, moving).
    _, learned = run(pilot(0.05), make_params(3, jnp.float64), 5)
    assert learned[0].mu["w"].dtype == jnp.float64 and learned[0].phi.dtype == jnp.float32
    assert np.all(np.isfinite(learned[0].phi)) and not np.allclose(learned[0].phi, init_phi(2))


def test_bfloat16_agreement_against_a_float64_cosine():
  rng = np.random.default_rng(2)
  shapes = {"a": (300, 7), "b": (1000,)}
  grads = [
    {k: jnp.asarray(rng.standard_normal(s) + 0.3, jnp.bfloat16) for k, s in shapes.items()}
    for _ in range(2)
  ]
  params = jax.tree.map(jnp.zeros_like, grads[0])
  gamma = 0.9
  tx = pilot(1e-3, gamma=gamma)
  state = tx.init(params)
  for g in grads:
    _, state = tx.update(g, state, params)

  def flat(tree):
    return np.concatenate([np.asarray(x, np.float64).ravel() for x in jax.tree.leaves(tree)])

  g1, g2 = flat(grads[0]), flat(grads[1])
  cosine = g1 @ g2 / (np.linalg.norm(g1) * np.linalg.norm(g2))
  # ρ_1 = 0 (no previous gradient), ρ_2 = (1 - γ) r_2.
  np.testing.assert_allclose(optax.tree.get(state, "rho"), (1 - gamma) * cosine, rtol=1e-5)


# --- non-finite gradients ------------------------------------------------------------------


def _nan_then_clean(tx, steps=3):
  params = {"a": jnp.ones(3), "b": jnp.ones(4)}
  state = tx.init(params)
  bad = {"a": jnp.array([jnp.nan, 1.0, 1.0]), "b": jnp.ones(4)}
  updates, state = tx.update(bad, state, params)
  params = optax.apply_updates(params, updates)
  phis = []
  for i in range(steps):
    grads = {"a": jnp.array([0.5, -1.0, 2.0]) * (i + 1), "b": jnp.linspace(-1, 1, 4)}
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    phis.append(optax.tree.get(state, "phi", None))
  return params, state, phis


def test_one_nan_gradient_element_stays_in_its_element_as_with_adam():
  ours, state, phis = _nan_then_clean(pilot(0.1, lr_phi=1.0))
  adams, _, _ = _nan_then_clean(optax.adam(0.1))
  for key in ours:
    np.testing.assert_array_equal(np.isnan(ours[key]), np.isnan(adams[key]), err_msg=key)
  assert (
    np.isnan(ours["a"][0]) and np.isfinite(ours["a"][1:]).all() and np.isfinite(ours["b"]).all()
  )
  # The policy survives and keeps learning from the finite elements.
  for field in ("rho", "phi", "policy"):
    assert np.isfinite(optax.tree.get(state, field)).all(), field
  assert float(jnp.abs(phis[-1] - phis[0]).max()) > 0


def test_python_float_gradient_leaves_are_accepted_as_by_adam():
  params = {"w": jnp.ones(3), "s": jnp.float32(2.0)}
  grads = {"w": jnp.ones(3), "s": 0.5}
  for tx in (pilot(0.1), optax.adam(0.1)):
    state = tx.init(params)
    for _ in range(2):
      updates, state = tx.update(grads, state, params)
    assert np.isfinite(updates["s"]) and float(updates["s"]) < 0


def test_inject_hyperparams_advice_only_for_a_traced_degree(params):
  with pytest.raises(TypeError) as plain:
    pilot(degree=2.0)
  assert "inject_hyperparams" not in str(plain.value)
  injected = optax.inject_hyperparams(pilot)(learning_rate=0.01, degree=2)  # degree not static
  with pytest.raises(TypeError, match=r"JAX array.*static_args=\('degree',\)"):
    injected.init(params)
