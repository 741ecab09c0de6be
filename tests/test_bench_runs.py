"""benchmarks.train's sweep and trajectory options, and what --resume may reuse."""

import json

import numpy as np
import pytest
from bench_files import killed_after_first_checkpoint, small_run, write_fashion_mnist

from benchmarks import train, trajectories
from benchmarks.data import load_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp("fmnist")
  write_fashion_mnist(directory, n_train=64, n_test=32)
  return directory


def _options(data_dir, out, **extra):
  base = dict(optimizer="adam", epochs=1, train_size=32, data_dir=data_dir, out=out, resume=True)
  return small_run(**(base | extra))


def test_resume_refuses_a_result_made_with_another_set_up(data_dir, tmp_path, capsys):
  out = tmp_path / "out"
  train.main(_options(data_dir, out))
  made = (out / "fashionmnist_cnn_adam_seed0.json").read_text()
  for change, named in [
    (dict(epochs=2), "epochs=1 (this run: 2)"),
    (dict(train_size=48), "train_size=32 (this run: 48)"),
    (dict(batch_size=8), "batch_size=16 (this run: 8)"),
    (dict(precision="bf16"), "precision='fp32' (this run: 'bf16')"),
  ]:
    with pytest.raises(SystemExit, match=named.replace("(", r"\(").replace(")", r"\)")):
      train.main(_options(data_dir, out, **change))
  assert (out / "fashionmnist_cnn_adam_seed0.json").read_text() == made  # left alone
  # The same set-up is skipped.
  capsys.readouterr()
  train.main(_options(data_dir, out))
  assert "skipping fashionmnist_cnn_adam_seed0: its result exists" in capsys.readouterr().out


def test_a_rerun_without_resume_refuses_to_overwrite_a_result(data_dir, tmp_path, capsys):
  # Issue 28: a typo (2 epochs for 3, no --resume) silently replaced an hour's result.
  out = tmp_path / "out"
  result = out / "fashionmnist_cnn_adam_seed0.json"
  train.main(_options(data_dir, out, epochs=2, resume=False))
  made = result.read_text()
  with pytest.raises(
    SystemExit, match=r"adam_seed0.json exists, made with epochs=2 \(this run: 1\)"
  ):
    train.main(_options(data_dir, out, epochs=1, resume=False))
  with pytest.raises(
    SystemExit, match="made with this set-up; pass --resume to keep it or --overwrite"
  ):
    train.main(_options(data_dir, out, epochs=2, resume=False))
  assert result.read_text() == made  # left alone
  capsys.readouterr()
  train.main(_options(data_dir, out, epochs=1, resume=False, overwrite=True))
  assert "replacing" in capsys.readouterr().out
  assert json.loads(result.read_text())["epochs"] == 1


def test_a_stopped_runs_checkpoint_is_not_silently_abandoned(data_dir, tmp_path, monkeypatch):
  out = tmp_path / "out"
  with killed_after_first_checkpoint(monkeypatch):
    train.main(_options(data_dir, out, epochs=2))
  checkpoint = out / "checkpoints" / "fashionmnist_cnn_adam_seeds0"
  assert checkpoint.is_dir()
  with pytest.raises(SystemExit, match="holds a stopped run's checkpoint; pass --resume"):
    train.main(_options(data_dir, out, epochs=2, resume=False))
  assert checkpoint.is_dir()
  train.main(_options(data_dir, out, epochs=2, resume=False, overwrite=True))
  assert not checkpoint.exists() and (out / "fashionmnist_cnn_adam_seed0.json").exists()


def test_resume_and_overwrite_together_are_a_usage_error(capsys):
  with pytest.raises(SystemExit):
    train.parse_args(small_run(optimizer="adam", out="x", resume=True, overwrite=True))
  assert "pass one of them" in capsys.readouterr().err


def test_resume_refuses_a_checkpoint_made_with_another_set_up(data_dir, tmp_path, monkeypatch):
  dataset = load_dataset("fashionmnist", str(data_dir))
  directory = tmp_path / "checkpoints" / "run"
  with killed_after_first_checkpoint(monkeypatch):  # the epoch-1 checkpoint
    train.train_seeds(dataset, "cnn", "pilot", [0], 3, batch_size=16, checkpoint_dir=directory)
  with pytest.raises(train.SetupMismatchError, match=r"epochs=3 \(this run: 2\)"):
    train.train_seeds(dataset, "cnn", "pilot", [0], 2, batch_size=16, checkpoint_dir=directory)
  with pytest.raises(
    train.SetupMismatchError, match=r"peak_learning_rate=0.001 \(this run: 0.01\)"
  ):
    train.train_seeds(
      dataset, "cnn", "pilot", [0], 3, batch_size=16, checkpoint_dir=directory, peak_lr=1e-2
    )


def test_peak_lr_sweep_names_records_and_resumes(data_dir, tmp_path, capsys):
  out = tmp_path / "out"
  train.main(_options(data_dir, out, optimizer="adam,pilot", peak_lr="3e-4,1e-3"))
  names = sorted(p.name for p in out.glob("*.json"))
  # The default (1e-3 for both) keeps its name; another rate is in the name.
  assert names == [
    "fashionmnist_cnn_adam_lr0.0003_seed0.json",
    "fashionmnist_cnn_adam_seed0.json",
    "fashionmnist_cnn_pilot_lr0.0003_seed0.json",
    "fashionmnist_cnn_pilot_seed0.json",
  ]
  record = json.loads((out / "fashionmnist_cnn_pilot_lr0.0003_seed0.json").read_text())
  assert record["hyperparameters"]["peak_learning_rate"] == 3e-4
  assert record["hyperparameters"]["lr_phi"] == 0.01  # the rest as documented
  assert "--peak-lr 3e-4,1e-3" in record["hyperparameters"]["command"]
  default = json.loads((out / "fashionmnist_cnn_pilot_seed0.json").read_text())
  assert default["history"] != record["history"]  # the rate changed the run
  capsys.readouterr()
  train.main(_options(data_dir, out, optimizer="adam,pilot", peak_lr="3e-4,1e-3,3e-3"))
  printed = capsys.readouterr().out
  assert printed.count("skipping") == 4 and printed.count("wrote ") == 2
  assert (out / "fashionmnist_cnn_pilot_lr0.003_seed0.json").exists()


@pytest.mark.parametrize("value", ["0", "-1e-3", "nan", "fast"])
def test_bad_peak_lr_is_a_one_line_error(value, capsys):
  with pytest.raises(SystemExit):
    train.parse_args(
      [
        "--dataset",
        "fashionmnist",
        "--arch",
        "cnn",
        "--optimizer",
        "adam",
        "--out",
        "x",
        "--peak-lr",
        value,
      ]
    )
  assert "--peak-lr" in capsys.readouterr().err


def test_trajectories_resume_without_loss_or_duplicates(data_dir, tmp_path, monkeypatch):
  dataset = load_dataset("fashionmnist", str(data_dir))
  kwargs = dict(batch_size=16, trajectory_every=3)  # 4 steps an epoch: snapshots 0,3,4,6,8
  whole_dir = tmp_path / "whole"
  train.train_seeds(dataset, "cnn", "pilot", [0], 2, trajectory_dir=whole_dir, **kwargs)
  (whole_run,) = list(whole_dir.iterdir())
  whole = trajectories.Trajectory(whole_run)
  assert whole.steps.tolist() == [0, 3, 4, 6, 8]
  assert whole.meta["steps_per_epoch"] == 4 and whole.meta["num_params"] == whole.points.shape[1]

  resumed_dir, directory = tmp_path / "resumed", tmp_path / "checkpoints" / "run"

  def snapshot_of_the_epoch_trained_again():
    # Killed in epoch 2 after a snapshot of it was written: the resumed run trains it again.
    np.save(resumed_dir / whole_run.name / "step_0000006.npy", np.zeros(3, np.float32))

  with killed_after_first_checkpoint(monkeypatch, snapshot_of_the_epoch_trained_again):
    train.train_seeds(
      dataset,
      "cnn",
      "pilot",
      [0],
      2,
      trajectory_dir=resumed_dir,
      checkpoint_dir=directory,
      **kwargs,
    )
  train.train_seeds(
    dataset, "cnn", "pilot", [0], 2, trajectory_dir=resumed_dir, checkpoint_dir=directory, **kwargs
  )
  resumed = trajectories.Trajectory(resumed_dir / whole_run.name)
  assert resumed.steps.tolist() == whole.steps.tolist()
  np.testing.assert_array_equal(np.asarray(resumed.points), np.asarray(whole.points))


def test_trajectories_of_seeds_in_one_program(data_dir, tmp_path):
  dataset = load_dataset("fashionmnist", str(data_dir))
  kwargs = dict(batch_size=16, trajectory_every=2)
  train.train_seeds(dataset, "cnn", "adam", [0, 1], 1, trajectory_dir=tmp_path / "v", **kwargs)
  train.train_seeds(dataset, "cnn", "adam", [1], 1, trajectory_dir=tmp_path / "s", **kwargs)
  together = trajectories.Trajectory(tmp_path / "v" / "fashionmnist_cnn_adam_seed1")
  alone = trajectories.Trajectory(tmp_path / "s" / "fashionmnist_cnn_adam_seed1")
  other = trajectories.Trajectory(tmp_path / "v" / "fashionmnist_cnn_adam_seed0")
  assert together.steps.tolist() == alone.steps.tolist() == [0, 2, 4]
  np.testing.assert_array_equal(together.points[0], alone.points[0])  # the same start
  np.testing.assert_allclose(together.points, alone.points, rtol=1e-4, atol=1e-5)
  assert not np.array_equal(other.points[0], together.points[0])  # seeds differ


def test_the_policy_is_recorded_at_the_last_step_too(data_dir, tmp_path):
  # 32 images, batch 16: 2 steps an epoch, 4 in 2 epochs; every 3 steps gives steps 1 and 4,
  # every 2 gives 1 and 3 and then the last, 4 (the plot stopped short of the end).
  out = tmp_path / "out"
  train.main(_options(data_dir, out, optimizer="pilot", epochs=2, policy_every=2, resume=False))
  record = json.loads((out / "fashionmnist_cnn_pilot_seed0.json").read_text())
  assert [p["step"] for p in record["policy"]] == [1, 3, 4]
