"""benchmarks.speed: state sizes, the one timing loop, old revisions, the records they write."""

import json
import sys
from pathlib import Path

import jax.numpy as jnp
import pytest
from bench_files import head_commit

import pilot_optax
from benchmarks.speed import compare_versions, elementwise_cost, step_overhead, timing


def test_state_bytes_are_three_and_two_and_a_half_parameter_sizes():
  ratios = step_overhead.state_bytes_ratio(timing.mlp_shapes())
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
  summary = timing.summarise(times)
  assert summary["over_adam"]["adam"] == 1.0
  result = {
    "optimizer_step": {"tiny": {"num_params": 2080, **summary}},
    "training_step": {},
    "state_bytes_over_param_bytes": {"tiny": step_overhead.state_bytes_ratio([(64, 32), (32,)])},
  }
  table = step_overhead.markdown(result)
  assert "| tiny | 0.0M |" in table and "pilot(mu_dtype=bf16)" in table


@pytest.mark.skipif(head_commit() is None, reason="needs the repository's git history")
def test_an_earlier_revision_imports_beside_the_current_package(tmp_path, monkeypatch):
  monkeypatch.chdir(Path(__file__).parents[1])
  monkeypatch.setattr(sys, "path", list(sys.path))
  old = compare_versions.import_at_revision("HEAD", tmp_path)
  assert old.__name__ == "pilot_optax_HEAD" and old.__file__.startswith(str(tmp_path))
  # A step of the committed package runs, and is not the current module's code.
  tx = old.pilot(0.1)
  params = {"w": jnp.ones(3)}
  updates, _ = tx.update(params, tx.init(params), params)
  assert updates["w"].shape == (3,) and old.pilot is not pilot_optax.pilot


def test_a_speed_record_names_the_command_with_its_arguments(tmp_path, monkeypatch):
  # Run as from a shell (argv None): the JSON names the flags that produced it, quoted.
  out = tmp_path / "cost dir" / "cost.json"
  monkeypatch.setattr(
    sys, "argv", ["elementwise_cost", "--n", "4096", "--reps", "1", "--out", str(out)]
  )
  elementwise_cost.main()
  record = json.loads(out.read_text())
  assert record["command"] == (
    f"python -m benchmarks.speed.elementwise_cost --n 4096 --reps 1 --out '{out}'"
  )
  assert record["n"] == 4096 and all(len(t) == 1 for t in record["raw_seconds"].values())
  # The header every result JSON carries.
  assert {"source", "device", "platform", "device_count", "jax", "optax", "python"} <= set(record)


def test_interleaved_timing_runs_each_in_turn_and_reports_per_step_seconds():
  calls = []

  def counter(name):
    def step(i):
      calls.append(name)
      return (i + 1,)

    return step, (0,)

  times = timing.time_interleaved({"a": counter("a"), "b": counter("b")}, reps=3, steps_per_rep=2)
  assert calls[:4] == ["a", "a", "b", "b"]  # warm-up: two calls each
  assert calls[4:] == ["a", "a", "b", "b"] * 3  # then interleaved repetitions
  assert all(len(t) == 3 and min(t) >= 0 for t in times.values())
  summary = timing.summarise({"adam": [2.0, 1.0, 3.0], "pilot": [4.0, 6.0, 5.0]})
  assert summary["median_seconds"] == {"adam": 2.0, "pilot": 5.0}
  assert summary["over_adam"]["pilot"] == 2.5
