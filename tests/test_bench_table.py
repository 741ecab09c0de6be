"""benchmarks.table on fixture JSONs."""

import json

import pytest

from benchmarks import table


def _record(optimizer, seed, acc, loss, var, policy=None):
  history = [
    {
      "epoch": e,
      "train_loss": 1.0 / e,
      "val_loss": loss + 0.1 / e,
      "val_accuracy": acc - 0.01 / e,
      "seconds": 2.0,
    }
    for e in (1, 2)
  ]
  record = {
    "dataset": "fashionmnist",
    "arch": "cnn",
    "optimizer": optimizer,
    "seed": seed,
    "epochs": 2,
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
    "| PILOT | 2 | 91.00 ± 1.41 | 0.3000 ± 0.0000 | 0.0100 ± 0.0000 | 94.13 | 0.1719 | 0.0045 |"
    in out
  )
  assert (
    "| Adam | 2 | 89.00 ± 1.41 | 0.4000 ± 0.0000 | 0.0200 ± 0.0000 | 93.28 | 0.1957 | 0.0033 |"
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
