"""The language-model workload: the byte transformer, the text workload through benchmarks.train
on a tiny corpus written in the module's format, and the tuning of a sweep's rates."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from bench_files import cli, killed_after_first_checkpoint, osis_book, write_ztext
from flax import nnx

from benchmarks import text, train, tuning
from benchmarks.models import ByteTransformer, decayed

TINY_MODEL = dict(context=16, width=16, depth=1, heads=2)


def test_no_logit_depends_on_a_later_byte():
  model = ByteTransformer(12, 16, 2, 2, rngs=nnx.Rngs(0))
  tokens = jax.random.randint(jax.random.key(1), (2, 12), 0, 256)
  logits = model(tokens)
  assert logits.shape == (2, 12, 256)
  for k in (0, 5, 11):
    changed = model(tokens.at[:, k].set((tokens[:, k] + 1) % 256))
    np.testing.assert_array_equal(changed[:, :k], logits[:, :k])
    assert np.abs(changed[:, k] - logits[:, k]).max() > 1e-4
  assert model(tokens[:, :5]).shape == (2, 5, 256)  # shorter than the context


def test_weight_decay_falls_on_matrices_not_on_biases_or_norms():
  params = nnx.state(ByteTransformer(8, 16, 1, 2, rngs=nnx.Rngs(0)), nnx.Param)
  mask = {jax.tree_util.keystr(p): m for p, m in jax.tree.leaves_with_path(decayed(params))}
  decayed_names = {name for name, m in mask.items() if m}
  assert all("bias" not in n and "scale" not in n for n in decayed_names)
  assert any("head" in n and "kernel" in n for n in decayed_names)
  assert any("embed" in n for n in decayed_names) and any("positions" in n for n in decayed_names)
  assert any("bias" in n for n in mask) and any("scale" in n for n in mask)


def _corpus(root):
  verse = "In the beginning, God created the heavens and the earth."
  books = ["Gen", *text.VALIDATION_BOOKS]
  entries = sum((osis_book(name, [verse] * 12) for name in books), [])
  write_ztext(root, {"ot": ["", "module heading", *entries], "nt": [""]})
  return root


def _run(tmp_path, **options):
  args = dict(dataset="bible", arch="transformer", optimizer="pilot,adamw", seeds=0, steps=30,
              eval_every=10, batch_size=8, valid_bytes=256, peak_lr=3e-3,
              data_dir=tmp_path / "sword", out=tmp_path / "out") | TINY_MODEL | options  # fmt: skip
  train.main(cli(**args))
  return {
    name: json.loads(
      (tmp_path / "out" / f"bible_transformer_{name}_lr0.003_seed0.json").read_text()
    )
    for name in args["optimizer"].split(",")
  }


@pytest.fixture
def corpus_dir(tmp_path):
  return _corpus(tmp_path / "sword")


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
  """One uninterrupted run of pilot and adamw on the tiny corpus, shared by the tests that read it
  (a run is most of what these tests cost)."""
  root = tmp_path_factory.mktemp("tiny")
  _corpus(root / "sword")
  return root / "sword", _run(root)


def test_a_few_steps_on_a_tiny_corpus_lower_the_validation_loss(tiny_runs):
  _, results = tiny_runs
  for name, record in results.items():
    assert record["steps"] == 30 and [h["step"] for h in record["history"]] == [10, 20, 30]
    bpb = [h["val_bpb"] for h in record["history"]]
    assert bpb[-1] < bpb[0] < 8.0, name  # 8 bits: a uniform guess over 256 bytes
    np.testing.assert_allclose(
      record["final"]["val_bpb"], record["final"]["val_loss"] / math.log(2)
    )
    assert {"train_slice_bpb", "val_accuracy", "loss_variance"} <= set(record["final"])
    hp = record["hyperparameters"]
    assert hp["valid_bytes"] == 256 and hp["bytes_seen"] == 30 * 8 * 16 and hp["warmup_steps"] == 1
  assert [p["step"] for p in results["pilot"]["policy"]][-1] == 30 and "policy" not in results[
    "adamw"
  ]


def test_a_stopped_text_run_resumes_to_the_same_numbers(tmp_path, tiny_runs, monkeypatch):
  corpus_dir, results = tiny_runs
  whole = results["pilot"]
  folders = []

  def look():  # a text run counts steps: its checkpoint is named by the steps done
    folders.extend(p.name for p in (tmp_path / "stopped" / "out" / "checkpoints").glob("*/*"))

  with killed_after_first_checkpoint(monkeypatch, look):
    _run(tmp_path / "stopped", data_dir=corpus_dir, optimizer="pilot", resume=True)
  assert folders == ["step_10"]
  resumed = _run(tmp_path / "stopped", data_dir=corpus_dir, optimizer="pilot", resume=True)["pilot"]

  def numbers(record):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in record["history"]]

  assert numbers(resumed) == numbers(whole) and resumed["policy"] == whole["policy"]


@pytest.mark.parametrize(
  ("options", "message"),
  [
    (dict(dataset="fashionmnist"), "--arch transformer goes with --dataset bible"),
    (dict(steps=25), "--steps 25 must be a multiple of --eval-every 10"),
    (dict(width=0), "--width 0"),
  ],
)
def test_bad_text_options_are_usage_errors(tmp_path, capsys, options, message):
  with pytest.raises(SystemExit):
    _run(tmp_path, **options)
  assert message in capsys.readouterr().err


def test_lattice_neighbours_are_half_a_decade_apart():
  assert tuning.lattice_neighbours(1e-3) == (3e-4, 3e-3)
  assert tuning.lattice_neighbours(3e-3) == (1e-3, 1e-2)
  # a midpoint's neighbours are the lattice rates on either side of it
  assert tuning.lattice_neighbours(1.78e-2) == (1e-2, 3e-2)
  assert tuning.lattice_neighbours(5.62e-3) == (3e-3, 1e-2)
  assert tuning.on_lattice(3e-3) and tuning.on_lattice(1e-2) and not tuning.on_lattice(5.62e-3)
  with pytest.raises(ValueError, match="> 0"):
    tuning.lattice_neighbours(0.0)


def test_the_grid_widens_until_the_best_rate_is_inside():
  assert tuning.next_rate({1e-3: 2.0, 3e-3: 1.5, 1e-2: 1.0}) == 3e-2  # best at the top edge
  assert tuning.next_rate({1e-3: 1.0, 3e-3: 1.5}) == 3e-4  # best at the bottom edge
  assert tuning.next_rate({1e-3: 2.0, 3e-3: 1.0, 1e-2: math.inf}) is None
  assert tuning.best({1e-3: math.inf, 3e-3: 2.0}) == 3e-3


def test_tuning_reads_a_sweeps_results(tmp_path, capsys):
  for rate, loss in ((1e-3, 2.0), (3e-3, 1.0), (1e-2, float("nan"))):
    record = dict(optimizer="adamw", seed=0, final=dict(val_loss=loss),
                  hyperparameters=dict(peak_learning_rate=rate))  # fmt: skip
    (tmp_path / f"r{rate}.json").write_text(json.dumps(record))
  tuning.main(["best", str(tmp_path), "--optimizer", "adamw"])
  tuning.main(["next", str(tmp_path), "--optimizer", "adamw"])
  assert capsys.readouterr().out.split() == ["0.003"]  # best 3e-3, both neighbours tried
  with pytest.raises(SystemExit, match="no results of lion"):
    tuning.main(["best", str(tmp_path), "--optimizer", "lion"])
  # a midpoint in a second folder is compared with the first folder's rates, and can win
  other = tmp_path / "midpoints"
  other.mkdir()
  record = dict(optimizer="adamw", seed=0, final=dict(val_loss=0.9),
                hyperparameters=dict(peak_learning_rate=5.62e-3))  # fmt: skip
  (other / "m.json").write_text(json.dumps(record))
  tuning.main(["best", str(tmp_path), str(other), "--optimizer", "adamw"])
  tuning.main(["next", str(tmp_path), str(other), "--optimizer", "adamw"])
  assert capsys.readouterr().out.split() == ["0.00562"]  # its neighbours 3e-3 and 1e-2 tried


def test_the_workloads_eval_batches_cover_each_set_once(tmp_path, corpus_dir):
  from benchmarks.workloads import TextWorkload, TransformerSize

  corpus = text.load_bible(corpus_dir)
  workload = TextWorkload(corpus, 20, 10, 4, TransformerSize(**TINY_MODEL), valid_bytes=600)
  assert workload.valid_windows.shape == (37, 17)  # 600 // 16 windows of 17 bytes
  np.testing.assert_array_equal(workload.valid_windows[1, 0], corpus.valid[16])
  for name in workload.eval_sets:
    slices = workload.eval_slices(name, batch=8)
    assert sum(size for _, size in slices) == len(workload.eval_arrays(name)[0])
  x, y = workload.eval_batch(workload.eval_arrays("val"), 0, 2, jnp.float32)
  np.testing.assert_array_equal(x[:, 1:], y[:, :-1])


def test_a_missing_bible_is_a_one_line_error_with_the_package_to_install(tmp_path):
  with pytest.raises(SystemExit) as stopped:
    _run(tmp_path, data_dir=tmp_path / "no-sword-here")
  message = str(stopped.value.code)
  assert message.startswith("error: ") and "\n" not in message
  assert "apt-get install sword-text-web" in message
