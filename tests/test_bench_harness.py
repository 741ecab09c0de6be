"""benchmarks.train at scale: seeds in one program, resumable runs, several processes."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from bench_files import SMALL_RUN, cli, killed_after_first_checkpoint, write_fashion_mnist

from benchmarks import processes, seeds, train
from benchmarks.data import load_dataset

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp("fmnist")
  write_fashion_mnist(directory, n_train=64, n_test=40)
  return directory


def _numbers(record):
  """A record's numbers, without wall-clock times and the command line."""
  history = [{k: v for k, v in h.items() if k != "seconds"} for h in record["history"]]
  return history, record["final"], record.get("policy")


def _params(state, k):
  return [np.asarray(x)[k] for x in processes.to_host(jax.tree.leaves(state[0]))]


def test_two_seeds_in_one_program_equal_two_sequential_runs(data_dir):
  dataset = load_dataset("fashionmnist", str(data_dir))
  kwargs = dict(batch_size=16, policy_every=1)
  together, state = train.train_seeds(dataset, "cnn", "pilot", [0, 1], 2, **kwargs)
  for k, seed in enumerate((0, 1)):
    (alone,), alone_state = train.train_seeds(dataset, "cnn", "pilot", [seed], 2, **kwargs)
    h_together, f_together, p_together = _numbers(together[k])
    h_alone, f_alone, p_alone = _numbers(alone)
    assert together[k]["seed"] == seed
    for a, b in zip(h_together, h_alone, strict=True):
      np.testing.assert_allclose(list(a.values()), list(b.values()), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(
      [list(p.values()) for p in p_together],
      [list(p.values()) for p in p_alone],
      rtol=1e-5,
      atol=1e-6,
    )
    for a, b in zip(_params(state, k), _params(alone_state, 0), strict=True):
      # Float tolerance: vmapped convolutions sum in another order (one weight in 800K
      # differed by 1.7e-6 here).
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
  # Different seeds, different runs.
  assert _numbers(together[0])[0] != _numbers(together[1])[0]


def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(data_dir, tmp_path, monkeypatch):
  dataset = load_dataset("fashionmnist", str(data_dir))
  kwargs = dict(batch_size=16, policy_every=1)
  (whole,), whole_state = train.train_seeds(dataset, "cnn", "pilot", [3], 2, **kwargs)

  directory = tmp_path / "checkpoints" / "run"
  with killed_after_first_checkpoint(monkeypatch):  # the epoch-1 checkpoint
    train.train_seeds(dataset, "cnn", "pilot", [3], 2, checkpoint_dir=directory, **kwargs)
  assert [p.name for p in directory.iterdir()] == ["epoch_1"]

  (resumed,), resumed_state = train.train_seeds(
    dataset, "cnn", "pilot", [3], 2, checkpoint_dir=directory, **kwargs
  )
  assert _numbers(resumed) == _numbers(whole)  # exactly, not approximately
  for a, b in zip(_params(resumed_state, 0), _params(whole_state, 0), strict=True):
    np.testing.assert_array_equal(a, b)


def test_cli_resume_skips_finished_runs_and_removes_checkpoints(data_dir, tmp_path, capsys):
  out = tmp_path / "out"
  args = cli(
    dataset="fashionmnist",
    arch="cnn",
    optimizer="adam",
    epochs=2,
    seeds="0,1",
    batch_size=16,
    train_size=48,
    data_dir=data_dir,
    out=out,
    vmap_seeds=True,
    resume=True,
  )
  train.main(args)
  first = json.loads((out / "fashionmnist_cnn_adam_seed0.json").read_text())
  assert first["hyperparameters"]["train_size"] == 48
  assert first["hyperparameters"]["seeds_in_one_program"] == 2
  assert not (out / "checkpoints").exists()  # finished: its checkpoints are gone
  (out / "fashionmnist_cnn_adam_seed1.json").unlink()
  capsys.readouterr()
  train.main(args)
  printed = capsys.readouterr().out
  assert "skipping fashionmnist_cnn_adam_seed0" in printed
  assert printed.count("wrote ") == 1
  again = json.loads((out / "fashionmnist_cnn_adam_seed0.json").read_text())
  assert again == first  # not retrained
  redone = json.loads((out / "fashionmnist_cnn_adam_seed1.json").read_text())
  assert redone["hyperparameters"]["seeds_in_one_program"] == 1


def _small_pilot_run(data_dir):
  """Options of a 2-epoch pilot run of 2 steps per epoch, with --resume."""
  return SMALL_RUN | dict(
    optimizer="pilot", epochs=2, train_size=32, policy_every=1, data_dir=data_dir, resume=True
  )


def _free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _run_processes(commands, timeout=420):
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
  running = [
    subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for c in commands
  ]
  outputs = []
  for p in running:
    try:
      outputs.append(p.communicate(timeout=timeout)[0])
    except subprocess.TimeoutExpired:
      for q in running:
        q.kill()
      raise
  for p, text in zip(running, outputs, strict=True):
    assert p.returncode == 0, text[-3000:]
  return outputs


def _train_on_two_processes(**options):
  """benchmarks.train with `options` as two processes meeting on a free localhost port."""
  port = _free_port()
  command = [sys.executable, "-m", "benchmarks.train"]
  return _run_processes(
    [
      command + cli(**options, coordinator=f"localhost:{port}", num_processes=2, process_id=i)
      for i in range(2)
    ]
  )


def test_two_processes_equal_one_process(data_dir, tmp_path):
  base = [sys.executable, "-m", "benchmarks.train"]
  # With --resume, process 0 writes (and finally removes) an epoch-1 checkpoint.
  common = _small_pilot_run(data_dir)
  _run_processes([base + cli(**common, out=tmp_path / "one", final_state=tmp_path / "one_state")])
  outputs = _train_on_two_processes(
    **common, out=tmp_path / "two", final_state=tmp_path / "two_state"
  )
  assert "2 process(es)" in outputs[0]
  assert not (tmp_path / "two" / "checkpoints").exists()
  # Process 0 alone wrote: one JSON, one state file.
  assert [p.name for p in (tmp_path / "two").glob("*.json")] == [
    "fashionmnist_cnn_pilot_seed0.json"
  ]
  one = np.load(tmp_path / "one_state" / "fashionmnist_cnn_pilot_seed0.npz")
  two = np.load(tmp_path / "two_state" / "fashionmnist_cnn_pilot_seed0.npz")
  assert set(one) == set(two) and {"pilot/rho", "pilot/phi"} <= set(one)
  for key in one:
    if key.startswith("pilot/"):
      np.testing.assert_allclose(two[key], one[key], rtol=1e-5, atol=1e-6, err_msg=key)
      continue
    # The batch's sums split over two processes round differently. Where a weight's gradient
    # is nearly 0, PILOT's Adam-like normalisation turns that rounding into a visible part of
    # a step (one weight in 800K moved 5e-5 apart here). So: all but a few in 10^5 within
    # 1e-5, and none apart by more than a step at the peak learning rate (1e-3). Without the
    # cross-process reduction, nearly every weight would differ.
    diff = np.abs(two[key] - one[key])
    assert np.mean(diff > 1e-5 + 2e-5 * np.abs(one[key])) <= 1e-5, key
    assert diff.max() < 1e-3, key
  record_one = json.loads((tmp_path / "one" / "fashionmnist_cnn_pilot_seed0.json").read_text())
  record_two = json.loads((tmp_path / "two" / "fashionmnist_cnn_pilot_seed0.json").read_text())
  assert record_two["hyperparameters"]["processes"] == 2
  assert record_two["hyperparameters"]["device_count"] == 2
  np.testing.assert_allclose(
    [p["rho"] for p in record_two["policy"]], [p["rho"] for p in record_one["policy"]], rtol=1e-5
  )


def test_pilot_alone_across_two_processes_equals_one_process(tmp_path):
  script = str(ROOT / "tests" / "multiprocess_pilot.py")
  _run_processes([[sys.executable, script, "1", "0", "0", str(tmp_path / "one.npz")]])
  port = str(_free_port())
  _run_processes(
    [[sys.executable, script, "2", str(i), port, str(tmp_path / "two.npz")] for i in range(2)]
  )
  one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
  assert set(two) == set(one) | {"sharded_across"} and int(two["sharded_across"]) == 2
  assert np.abs(one["phi"] - [0, 0, 1.4, 0, 0, 3, 0, 0, -2]).max() > 1e-3  # φ learned
  for key in one:
    np.testing.assert_allclose(two[key], one[key], rtol=1e-6, atol=1e-7, err_msg=key)


def test_a_seed_gives_every_optimizer_the_same_start_and_batches(data_dir, monkeypatch):
  """What makes per-seed differences between optimizers paired (benchmarks.table)."""
  dataset = load_dataset("fashionmnist", str(data_dir))
  seen = {}
  real_train = seeds.SeedGroup.train

  def recording_train(self, arrays, order, step, global_step, keys):
    name = self.tx_name
    if step == 0 and name not in seen:  # the state before any step, the epoch's batches
      seen[name] = (
        processes.to_host(jax.tree.leaves(self.state[0])),
        processes.to_host(order),
        processes.to_host(jax.random.key_data(keys)),
      )
    return real_train(self, arrays, order, step, global_step, keys)

  monkeypatch.setattr(seeds.SeedGroup, "train", recording_train)
  for optimizer, seed in (("pilot", 4), ("adam", 4), ("pilot_frozen", 4), ("adam", 5)):
    monkeypatch.setattr(seeds.SeedGroup, "tx_name", f"{optimizer}/{seed}", raising=False)
    train.train_seeds(dataset, "cnn", optimizer, [seed], 1, batch_size=16)
  reference = seen["pilot/4"]
  for name in ("adam/4", "pilot_frozen/4"):
    for a, b in zip(seen[name][0], reference[0], strict=True):
      np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(seen[name][1], reference[1])
    np.testing.assert_array_equal(seen[name][2], reference[2])
  other = seen["adam/5"]
  assert not np.array_equal(other[1], reference[1])
  assert not all(np.array_equal(a, b) for a, b in zip(other[0], reference[0], strict=True))


def test_two_processes_resume_a_checkpoint_only_process_0_can_read(data_dir, tmp_path, monkeypatch):
  # One process trains epoch 1 of 2 and is killed after its checkpoint; two processes resume
  # it (process 0 reads the files and broadcasts them) and end where one process ends.
  common = _small_pilot_run(data_dir)
  with killed_after_first_checkpoint(monkeypatch):
    train.main(cli(**common, out=tmp_path / "two"))
  assert list((tmp_path / "two" / "checkpoints").iterdir())
  base = [sys.executable, "-m", "benchmarks.train"]
  outputs = _train_on_two_processes(**common, out=tmp_path / "two")
  assert "resumed after epoch 1" in outputs[0]
  _run_processes([base + cli(**common, out=tmp_path / "one")])
  two = json.loads((tmp_path / "two" / "fashionmnist_cnn_pilot_seed0.json").read_text())
  one = json.loads((tmp_path / "one" / "fashionmnist_cnn_pilot_seed0.json").read_text())
  assert _numbers(two)[0][0] == _numbers(one)[0][0]  # epoch 1: the same single process
  np.testing.assert_allclose(
    [two["final"]["val_loss"], two["policy"][-1]["rho"]],
    [one["final"]["val_loss"], one["policy"][-1]["rho"]],
    rtol=1e-4,
  )
