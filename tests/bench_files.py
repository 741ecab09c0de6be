"""For the benchmark tests: small dataset files in their original formats, CLI lists, git, a
run killed after its first checkpoint."""

import contextlib
import gzip
import pickle
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from benchmarks.data import (
  CIFAR_DIRNAME,
  CIFAR_TEST_BATCH,
  CIFAR_TRAIN_BATCHES,
  FASHION_MNIST_FILES,
)


def write_idx(path: Path, array: np.ndarray) -> None:
  """IDX: magic (0x08 = ubyte, then the number of dimensions), big-endian sizes, bytes."""
  header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


def write_fashion_mnist(directory: Path, n_train=64, n_test=32, seed=0) -> dict:
  rng = np.random.default_rng(seed)
  directory.mkdir(parents=True, exist_ok=True)
  arrays = {
    "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
    "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
    "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
    "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
  }
  for key, filename in FASHION_MNIST_FILES.items():
    write_idx(directory / filename, arrays[key])
  return arrays


def write_cifar10(directory: Path, per_batch=8, seed=0) -> dict:
  """The `cifar-10-batches-py` layout: five training batches and a test batch, pickled dicts."""
  rng = np.random.default_rng(seed)
  folder = directory / CIFAR_DIRNAME
  folder.mkdir(parents=True, exist_ok=True)
  written = {}
  for name in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH):
    data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
    labels = [int(x) for x in rng.integers(0, 10, per_batch)]
    with open(folder / name, "wb") as f:
      pickle.dump(
        {
          b"batch_label": name.encode(),
          b"labels": labels,
          b"data": data,
          b"filenames": [b"x.png"] * per_batch,
        },
        f,
      )
    written[name] = (data, labels)
  return written


SMALL_RUN = dict(dataset="fashionmnist", arch="cnn", seeds=0, batch_size=16)


def small_run(**options):
  """benchmarks.train's arguments for a small run on tiny files: SMALL_RUN, updated."""
  return cli(**(SMALL_RUN | options))


@contextlib.contextmanager
def killed_after_first_checkpoint(monkeypatch, before_dying=None):
  """Inside, a run is killed (KeyboardInterrupt, which must happen) right after it writes its
  first end-of-epoch checkpoint; ``before_dying()`` runs between the two. Afterwards
  checkpoints are written normally again."""
  from benchmarks import checkpoints

  real_save = checkpoints.save

  def save_then_stop(*args):
    real_save(*args)
    if before_dying is not None:
      before_dying()
    raise KeyboardInterrupt

  monkeypatch.setattr(checkpoints, "save", save_then_stop)
  with pytest.raises(KeyboardInterrupt):
    yield
  monkeypatch.setattr(checkpoints, "save", real_save)


def cli(**options):
  """Command-line arguments of benchmarks.train: cli(batch_size=16, resume=True) ->
  ["--batch-size", "16", "--resume"]."""
  args = []
  for k, v in options.items():
    if v is False:
      continue  # a flag left off
    flag = f"--{k.replace('_', '-')}"
    args += [flag] if v is True else [flag, str(v)]
  return args


def head_commit() -> str | None:
  """The commit checked out in the repository these tests belong to; None outside git."""
  root = Path(__file__).resolve().parents[1]
  done = subprocess.run(
    ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
  )
  return done.stdout.strip() if done.returncode == 0 else None


def write_ztext(root: Path, testaments: dict[str, list[str]], module: str = "engWEB2015eb") -> Path:
  """A SWORD zText module under ``root`` (``mods.d/`` and ``modules/``), the format of Debian's
  sword-text-web: per testament, its index entries (OSIS text, '' for an empty one) in blocks
  of three entries, each block zlib-compressed (``.bzz``), with the block index (``.bzs``:
  offset, compressed and uncompressed size) and the entry index (``.bzv``: block, offset,
  size). Returns the module's data folder."""
  import zlib

  data = root / "modules" / "texts" / "ztext" / module.lower()
  data.mkdir(parents=True, exist_ok=True)
  for testament, entries in testaments.items():
    blocks, index = [], []
    for start in range(0, len(entries), 3):
      block = b""
      for text in entries[start : start + 3]:
        raw = text.encode("utf-8")
        index.append((len(blocks), len(block), len(raw)))
        block += raw
      blocks.append(block)
    compressed, table, offset = b"", b"", 0
    for block in blocks:
      packed = zlib.compress(block)
      table += struct.pack("<III", offset, len(packed), len(block))
      compressed += packed
      offset += len(packed)
    (data / f"{testament}.bzz").write_bytes(compressed)
    (data / f"{testament}.bzs").write_bytes(table)
    (data / f"{testament}.bzv").write_bytes(b"".join(struct.pack("<IIH", *e) for e in index))
  (root / "mods.d").mkdir(parents=True, exist_ok=True)
  (root / "mods.d" / "web.conf").write_text(
    f"[{module}]\nDataPath=./modules/texts/ztext/{module.lower()}/\nModDrv=zText\n"
    "Encoding=UTF-8\nCompressType=ZIP\nBlockType=BOOK\n"
  )
  return data


def osis_book(name: str, verses: list[str]) -> list[str]:
  """One book's index entries as the module holds them: its heading, chapter 1, the verses
  (words in <w> tags)."""
  heading = (
    f'<div canonical="true" osisID="{name}" sID="b{name}" type="book"/> <title>{name}</title>'
  )
  chapter = f'<chapter n="1" osisID="{name}.1" sID="{name}.1"/>'
  tagged = [
    " ".join(f'<w lemma="strong:H1">{word}</w>' for word in verse.split()) for verse in verses
  ]
  return [heading, chapter, *tagged]
