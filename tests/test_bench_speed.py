"""benchmarks.step_overhead: state sizes exactly, and a smoke run of the timing loop."""

import pytest

from benchmarks import step_overhead


def test_state_bytes_are_three_and_two_and_a_half_parameter_sizes():
  ratios = step_overhead.state_bytes_ratio(step_overhead.mlp_shapes())
  # 3 buffers, plus count, rho, phi (9) and policy (3): 56 bytes over ~3.9 MB.
  assert ratios["pilot"] == pytest.approx(3.0, abs=1e-4)
  assert ratios["pilot(mu_dtype=bf16)"] == pytest.approx(2.5, abs=1e-4)
  assert ratios["adam"] == pytest.approx(2.0, abs=1e-4) and ratios["lion"] == pytest.approx(
    1.0, abs=1e-4
  )


def test_timing_loop_and_table_smoke():
  times = step_overhead.time_optimizer_steps([(64, 32), (32,)], reps=2, steps_per_rep=1)
  assert set(times) == set(step_overhead.OPTIMIZERS) and all(
    len(t) == 2 and min(t) > 0 for t in times.values()
  )
  summary = step_overhead._summarise(times)
  assert summary["over_adam"]["adam"] == 1.0
  result = {
    "optimizer_step": {"tiny": {"num_params": 2080, **summary}},
    "training_step": {},
    "state_bytes_over_param_bytes": {"tiny": step_overhead.state_bytes_ratio([(64, 32), (32,)])},
  }
  table = step_overhead.markdown(result)
  assert "| tiny | 0.0M |" in table and "pilot(mu_dtype=bf16)" in table
