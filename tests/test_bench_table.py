"""benchmarks.table on fixture JSONs."""

import itertools
import json

import numpy as np
import pytest

from benchmarks import stats, sweep, table


def _record(optimizer, seed, acc, loss, var, policy=None, epochs=2):
  history = [
    {
      "epoch": e,
      "train_loss": 1.0 / e,
      "val_loss": loss + 0.1 / e,
      "val_accuracy": acc - 0.01 / e,
      "seconds": 2.0,
    }
    for e in range(1, epochs + 1)
  ]
  record = {
    "dataset": "fashionmnist",
    "arch": "cnn",
    "optimizer": optimizer,
    "seed": seed,
    "epochs": epochs,
    "hyperparameters": {},
    "history": history,
    "final": {"val_accuracy": acc, "val_loss": loss, "loss_variance": var},
  }
  if policy:
    record["policy"] = policy
  return record


def test_table_means_stds_and_paper_numbers(tmp_path, capsys):
  policy = [{"step": s, "rho": 0.1 * s, "pm": 0.8, "pv": 0.47, "ps": 0.12} for s in (1, 11, 21)]
  for seed, acc in ((0, 0.90), (1, 0.92)):
    (tmp_path / f"a_pilot_{seed}.json").write_text(
      json.dumps(_record("pilot", seed, acc, 0.3, 0.01, policy))
    )
    (tmp_path / f"a_adam_{seed}.json").write_text(
      json.dumps(_record("adam", seed, acc - 0.02, 0.4, 0.02))
    )
  table.main([str(tmp_path)])
  out = capsys.readouterr().out
  # mean 91.00, sample std of (90, 92) = 1.41; the paper's FMNIST/CNN numbers beside ours.
  assert (
    "| PILOT | 2 | 91.00 ± 1.41 | 0.3000 ± 0.0000 | 1.00e-02 ± 0.00e+00 | 94.13 | 0.1719 | 0.0045 |"
    in out
  )
  assert (
    "| Adam | 2 | 89.00 ± 1.41 | 0.4000 ± 0.0000 | 2.00e-02 ± 0.00e+00 | 93.28 | 0.1957 | 0.0033 |"
    in out
  )
  assert out.index("PILOT") < out.index("Adam")
  assert (tmp_path / "table.md").read_text().strip() in out
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["fashionmnist/cnn"]["pilot"]["seeds"] == [0, 1]
  for name in ("fashionmnist_cnn_curves.png", "fashionmnist_cnn_pilot_policy.png"):
    assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_table_rejects_foreign_json(tmp_path):
  (tmp_path / "x.json").write_text(json.dumps({"dataset": "cifar10"}))
  with pytest.raises(SystemExit, match="missing keys"):
    table.main([str(tmp_path)])
  (tmp_path / "empty").mkdir()
  with pytest.raises(SystemExit, match="no result JSONs"):
    table.main([str(tmp_path / "empty")])


def test_not_a_directory_says_so(tmp_path):
  with pytest.raises(SystemExit, match="not a directory"):
    table.main([str(tmp_path / "nonexistent")])


def test_one_seed_has_no_std_and_one_epoch_is_singular(tmp_path, capsys):
  policy = [{"step": s, "rho": 0.1, "pm": 0.8, "pv": 0.476, "ps": 0.119} for s in (1, 11)]
  (tmp_path / "p.json").write_text(
    json.dumps(_record("pilot", 0, 0.9, 0.3, 0.01, policy, epochs=1))
  )
  table.main([str(tmp_path)])
  out = capsys.readouterr().out
  assert "(1 epoch; paper: 30)" in out
  assert "| PILOT | 1 | 90.00 | 0.3000 | 1.00e-02 |" in out
  assert json.loads((tmp_path / "summary.json").read_text())["fashionmnist/cnn"]["pilot"][
    "val_accuracy"
  ] == [90.0, None]


def test_plots_use_plain_ticks_integer_epochs_and_full_knob_ranges(tmp_path, monkeypatch):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  figures = []
  monkeypatch.setattr(plt, "close", figures.append)  # keep the figures to inspect them
  policy = [
    {"step": s, "rho": 0.1, "pm": 0.8, "pv": 0.4762 + 1e-5 * s, "ps": 0.119} for s in (1, 11)
  ]
  records = [_record(o, 0, 0.9, 0.3, 0.01, policy, epochs=3) for o in ("pilot", "pilot_frozen")]
  records.append(_record("adam", 0, 0.88, 0.35, 0.02, epochs=3))
  table.plot(records, tmp_path)
  curves, knobs, paired = figures
  loss_ax, val_ax, acc_ax = curves.axes
  assert loss_ax.get_yscale() == "linear"  # the loss spans less than a decade here
  assert loss_ax.get_xlim() == (0.5, 3.5)
  curves.canvas.draw()
  assert list(loss_ax.get_xticks()) == [1, 2, 3]  # whole epochs only
  # Three panels with their own titles; accuracy zoomed to the finish (epochs 2 and 3:
  # 89.5-89.67 for pilot, 87.5-87.67 for adam), not down to the first epoch's 87.
  assert (
    len({ax.get_title() for ax in curves.axes}) == 3 and "validation loss" in val_ax.get_title()
  )
  low, high = acc_ax.get_ylim()
  assert 87.0 < low < 87.5 and 89.67 < high < 90.5
  # The paired plot has the learned - frozen panel beside Adam's, and equal seeds side by side.
  assert [ax.get_title() for ax in paired.axes] == ["minus Adam", "learned policy minus frozen"]
  labels = [t.get_text() for ax in curves.axes for t in ax.get_yticklabels() if t.get_text()]
  assert labels and not any("10" in x and "^" in x or "×" in x for x in labels)
  assert all(line.get_marker() == "o" for line in loss_ax.get_lines())
  full = [ax.get_ylim() for ax in knobs.axes[:4]]
  assert full == [(-1.0, 1.0), (0.0, 1.0), (0.0, 0.5), (0.0, 1.0)]
  assert "zoomed" in knobs.axes[6].get_title()
  assert {t.get_text() for t in knobs.axes[0].get_legend().get_texts()} == {
    "PILOT",
    "PILOT, frozen policy",
  }


def test_sign_flip_p_value_is_exact():
  # All 8 sign patterns of (1, 2, 3): only +++ and --- reach |mean| >= 2.
  assert stats.sign_flip_p_value([1.0, 2.0, 3.0]) == 2 / 8
  assert stats.sign_flip_p_value([0.5] * 5) == 2 / 32
  # Symmetric data: every pattern's |mean| >= 0.
  assert stats.sign_flip_p_value([1.0, -1.0]) == 1.0
  # Against a brute-force enumeration on random data.
  rng = np.random.default_rng(0)
  d = rng.standard_normal(7)
  patterns = itertools.product((1, -1), repeat=7)
  brute = np.mean([abs(np.dot(s, d)) / 7 >= abs(d.mean()) - 1e-12 for s in patterns])
  assert stats.sign_flip_p_value(d) == brute


def test_paired_statistics_against_adam(tmp_path, capsys):
  accuracies = {"adam": [0.90, 0.91, 0.92], "pilot": [0.91, 0.93, 0.95], "lion": [0.92, 0.90]}
  for opt, values in accuracies.items():
    for seed, acc in enumerate(values):
      (tmp_path / f"{opt}_{seed}.json").write_text(json.dumps(_record(opt, seed, acc, 0.3, 0.01)))
  table.main([str(tmp_path)])
  out = capsys.readouterr().out
  # pilot - adam = (1, 2, 3) points: mean 2, sd 1, t(0.975, 2) = 4.303 -> ± 2.484; p = 2/8.
  assert "| PILOT | 3 | +2.00 | [-0.48, +4.48] | 0.250 |" in out
  assert "| Lion | 2 | +2.00, -1.00 (fewer than 3 seeds: no statistics) | — | — |" in out
  rows = json.loads((tmp_path / "summary.json").read_text())["paired_vs_adam"]["fashionmnist/cnn"]
  np.testing.assert_allclose(rows["pilot"]["differences"], [1, 2, 3], atol=1e-9)
  np.testing.assert_allclose(rows["pilot"]["ci95"], [2 - 4.303 / 3**0.5, 2 + 4.303 / 3**0.5])
  assert "mean" not in rows["lion"]
  assert (tmp_path / "fashionmnist_cnn_paired_vs_adam.png").read_bytes()[:4] == b"\x89PNG"


def test_policy_movement_table(tmp_path, capsys):
  moving = [
    {"step": s, "rho": 0.0, "pm": 0.8 + 0.01 * s, "pv": 0.47, "ps": 0.12} for s in (1, 2, 3)
  ]
  still = [{"step": s, "rho": 0.0, "pm": 0.8, "pv": 0.47, "ps": 0.12} for s in (1, 2, 3)]
  (tmp_path / "a.json").write_text(json.dumps(_record("pilot", 0, 0.9, 0.3, 0.01, moving)))
  (tmp_path / "b.json").write_text(json.dumps(_record("pilot_frozen", 0, 0.9, 0.3, 0.01, still)))
  table.main([str(tmp_path), "--no-plots"])
  out = capsys.readouterr().out
  assert "| PILOT | 1 | 0.0000 → 0.0000 (0.0000) | 0.8100 → 0.8300 (0.0200) |" in out
  assert "| PILOT, frozen policy | 1 | 0.0000 → 0.0000 (0.0000) | 0.8000 → 0.8000 (0.0000) |" in out
  # The learned policy against the frozen one, paired (one seed: no statistics).
  assert "Paired difference from PILOT, frozen policy" in out
  assert "| PILOT | 1 | +0.00 (fewer than 3 seeds: no statistics) | — | — |" in out


def test_one_epoch_is_ticked_at_1_only(tmp_path, monkeypatch):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  figures = []
  monkeypatch.setattr(plt, "close", figures.append)
  table.plot([_record("adam", 0, 0.9, 0.3, 0.01, epochs=1)], tmp_path)
  (curves,) = figures
  assert all(list(ax.get_xticks()) == [1] for ax in curves.axes)


def test_jitter_spreads_equal_values_only():
  offsets = table._jitter([0.5, 0.5, 1.0, 0.5])
  assert len({offsets[0], offsets[1], offsets[3]}) == 3 and offsets[2] == 0


def test_provenance_lists_commands_and_counts_runs_per_commit():
  one = _record("adam", 0, 0.9, 0.3, 0.01)
  one["hyperparameters"] = {"command": "python -m benchmarks.train --seeds 0", "source": "abc"}
  text = table.provenance_markdown([one])
  assert "Produced by `python -m benchmarks.train --seeds 0`." in text
  assert "Code (git commit): abc (1 run)." in text
  old = _record("adam", 1, 0.9, 0.3, 0.01)
  old["hyperparameters"] = {"command": "python -m benchmarks.train --seeds 1"}
  text = table.provenance_markdown([one, old, dict(one, seed=2)])
  assert "<summary>Produced by 2 commands</summary>" in text
  assert (
    "- `python -m benchmarks.train --seeds 0`\n- `python -m benchmarks.train --seeds 1`" in text
  )
  assert "Code (git commit): abc (2 runs), not recorded (1 run)." in text


def test_learning_rate_sweep_tables_and_plot(tmp_path, capsys):
  # Accuracies (%) by optimizer, rate and seed 0-2.
  grid = {
    "adam": {3e-4: (90.0, 90.2, 90.4), 1e-3: (91.0, 91.2, 91.4), 3e-3: (90.8, 91.0, 91.2)},
    "pilot": {3e-4: (90.5, 90.7, 90.9), 1e-3: (91.0, 91.3, 91.6), 3e-3: (89.0, 89.2, 89.4)},
    "pilot_frozen": {1e-3: (91.0, 91.1, 91.2)},
  }
  for opt, by_lr in grid.items():
    for lr, values in by_lr.items():
      for seed, acc in enumerate(values):
        record = _record(opt, seed, acc / 100, 0.3, 0.01)
        record["hyperparameters"] = {"peak_learning_rate": lr}
        (tmp_path / f"{opt}_{lr:g}_{seed}.json").write_text(json.dumps(record))
  table.main([str(tmp_path)])
  out = capsys.readouterr().out
  assert "| optimizer | 0.0003 | 0.001 | 0.003 | best | good range (decades) |" in out
  # Adam's best is 1e-3 (91.2), 3e-3 (91.0) is within 0.5 points, 3e-4 (90.2) is not.
  assert (
    "| Adam | 90.20 ± 0.20 (3) | 91.20 ± 0.20 (3) | 91.00 ± 0.20 (3) | 0.001 | 0.001, 0.003 (0.5) |"
    in out
  )
  assert "| PILOT, frozen policy | — | 91.10 ± 0.10 (3) | — | 0.001 | 0.001 (0.0) |" in out
  # PILOT - Adam at 3e-4: +0.5 at every seed (std 0: the interval is the point).
  assert "| 0.0003 | 3 | +0.50 | [+0.50, +0.50] | 0.250 |" in out
  assert "| 0.003 | 3 | -1.80 | [-1.80, -1.80] | 0.250 |" in out
  # At their best rates (1e-3 both): differences 0, +0.1, +0.2.
  assert "| PILOT − Adam | 0.001 vs 0.001 | 3 | +0.10 |" in out
  assert "flatters every optimizer alike" in out
  # The usual tables show the documented rate only (1e-3 for all three here).
  assert "| Adam | 3 | 91.20 ± 0.20 |" in out
  summary = json.loads((tmp_path / "summary.json").read_text())["lr_sweep"]["fashionmnist/cnn"]
  assert summary["optimizers"]["pilot"]["best_rate"] == 1e-3
  assert summary["optimizers"]["pilot"]["good_range"] == {"rates": [0.001], "decades": 0.0}
  assert (tmp_path / "fashionmnist_cnn_lr_sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_the_landscapes_json_beside_the_results_is_not_read_as_one(tmp_path, capsys):
  (tmp_path / "a.json").write_text(json.dumps(_record("adam", 0, 0.9, 0.3, 0.01)))
  (tmp_path / "landscape_fashionmnist_cnn_seed0.json").write_text(json.dumps({"grid": {}}))
  table.main([str(tmp_path), "--no-plots"])
  assert "| Adam | 1 | 90.00 |" in capsys.readouterr().out


def test_sweep_held_out_choice_scores_each_seed_at_the_rate_the_other_seeds_chose():
  # Adam: 1e-3 is best over all seeds only thanks to seed 2 (mean 91.67 against 91.5);
  # without seed 2, 3e-3 is best, so seed 2 is scored at 3e-3. PILOT ran at 1e-3 only.
  adam = {1e-3: {0: 91.0, 1: 91.0, 2: 93.0}, 3e-3: {0: 91.5, 1: 91.5, 2: 91.5}}
  pilot = {1e-3: {0: 90.0, 1: 90.0, 2: 90.0}}
  row = sweep.held_out_pair(pilot, adam)
  assert row["rates"] == {"0": [1e-3, 1e-3], "1": [1e-3, 1e-3], "2": [1e-3, 3e-3]}
  assert row["differences"] == pytest.approx([-1.0, -1.0, -1.5])
  assert row["mean"] == pytest.approx(-3.5 / 3)
  # Chosen on every seed, both at 1e-3: -1, -1, -3.
  assert sweep._pair(pilot[1e-3], adam[1e-3])["mean"] == pytest.approx(-5 / 3)
  # A seed that ran alone has no other seed to choose with: it is left out.
  assert sweep.held_out_pair({1e-3: {0: 90.0}}, {1e-3: {0: 91.0}})["seeds"] == []
  text = sweep.markdown(sweep.analyse(_sweep_records(pilot, adam)), {}, {})
  assert (
    "| pilot − adam | 0: 0.001 vs 0.001; 1: 0.001 vs 0.001; 2: 0.001 vs 0.003 | 3 | -1.17 |" in text
  )


def _sweep_records(*grids):
  records = []
  for opt, grid in zip(("pilot", "adam"), grids, strict=True):
    for lr, by_seed in grid.items():
      for seed, acc in by_seed.items():
        record = _record(opt, seed, acc / 100, 0.3, 0.01)
        record["hyperparameters"] = {"peak_learning_rate": lr}
        records.append(record)
  return records
