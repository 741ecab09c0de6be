"""benchmarks.data: the original on-disk formats, tfds, and clear errors."""

import gzip
import pickle

import numpy as np
import pytest
from bench_files import write_cifar10, write_fashion_mnist, write_idx

from benchmarks.data import DataError, load_dataset, read_idx


def test_fashion_mnist_idx_round_trip(tmp_path):
  arrays = write_fashion_mnist(tmp_path, n_train=20, n_test=10)
  ds = load_dataset("fashionmnist", tmp_path)
  assert ds.train_images.shape == (20, 28, 28, 1) and ds.train_images.dtype == np.uint8
  np.testing.assert_array_equal(ds.train_images[..., 0], arrays["train_images"])
  np.testing.assert_array_equal(ds.test_labels, arrays["test_labels"])
  assert ds.train_labels.dtype == np.int32 and not ds.augment
  assert ds.mean == (0.2860,) and ds.std == (0.3530,)


def test_cifar10_batches_round_trip(tmp_path):
  written = write_cifar10(tmp_path, per_batch=4)
  for root in (tmp_path, tmp_path / "cifar-10-batches-py"):  # the folder or its parent
    ds = load_dataset("cifar10", root)
    assert ds.train_images.shape == (20, 32, 32, 3) and ds.test_images.shape == (4, 32, 32, 3)
    assert ds.augment
  # Channel-major rows: pixel (0, 0) of image 0 is data[0, 0] (R), data[0, 1024] (G), data[0, 2048] (B).
  data, labels = written["data_batch_1"]
  np.testing.assert_array_equal(ds.train_images[0, 0, 0], data[0, [0, 1024, 2048]])
  np.testing.assert_array_equal(ds.train_images[0, 0, 1], data[0, [1, 1025, 2049]])
  np.testing.assert_array_equal(ds.train_labels[:4], labels)
  np.testing.assert_array_equal(ds.test_labels, written["test_batch"][1])


def test_missing_fashion_file_is_named(tmp_path):
  write_fashion_mnist(tmp_path)
  (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
  with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: file not found"):
    load_dataset("fashionmnist", tmp_path)


def test_bad_idx_magic_and_truncation(tmp_path):
  path = tmp_path / "labels.gz"
  write_idx(path, np.zeros((5, 28, 28), np.uint8))
  with pytest.raises(DataError, match="magic number"):
    read_idx(path, ndim=1)
  with gzip.open(path, "rb") as f:
    raw = f.read()
  with gzip.open(path, "wb") as f:
    f.write(raw[:-10])
  with pytest.raises(DataError, match="header says shape"):
    read_idx(path, ndim=3)
  path.write_bytes(b"not gzip at all")
  with pytest.raises(DataError, match="cannot be read"):
    read_idx(path, ndim=3)


def test_mismatched_counts(tmp_path):
  write_fashion_mnist(tmp_path, n_train=10)
  write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(9, np.uint8))
  with pytest.raises(DataError, match="10 images but 9 labels"):
    load_dataset("fashionmnist", tmp_path)


def test_cifar_errors(tmp_path):
  write_cifar10(tmp_path)
  folder = tmp_path / "cifar-10-batches-py"
  (folder / "data_batch_3").unlink()
  with pytest.raises(DataError, match="data_batch_3: file not found"):
    load_dataset("cifar10", tmp_path)
  with open(folder / "data_batch_3", "wb") as f:
    pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
  with pytest.raises(DataError, match=r"expected uint8 \(N, 3072\)"):
    load_dataset("cifar10", tmp_path)
  (folder / "data_batch_3").write_bytes(b"garbage")
  with pytest.raises(DataError, match="unpickling failed"):
    load_dataset("cifar10", tmp_path)
  with open(folder / "data_batch_3", "wb") as f:
    pickle.dump({b"pixels": 1}, f)
  with pytest.raises(DataError, match="b'data' and b'labels'"):
    load_dataset("cifar10", tmp_path)


def test_data_dir_must_exist(tmp_path):
  with pytest.raises(DataError, match="not a directory"):
    load_dataset("fashionmnist", tmp_path / "nope")


@pytest.mark.parametrize("name, shape", [("fashionmnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_mock_data(name, shape):
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
    ds = load_dataset(name)
  assert ds.train_images.shape == (12, *shape) and ds.test_images.shape == (12, *shape)
  assert ds.train_images.dtype == np.uint8 and ds.train_labels.max() < 10


def test_tfds_without_network_points_to_data_dir(tmp_path, monkeypatch):
  pytest.importorskip("tensorflow_datasets")
  import benchmarks.data as data

  monkeypatch.setattr(data, "_network_reachable", lambda *a, **k: False)
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
  with pytest.raises(DataError, match="--data-dir") as err:
    data.load_tfds("fashionmnist", tfds_data_dir=str(tmp_path))
  assert "network" in str(err.value)
