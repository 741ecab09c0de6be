"""benchmarks.records: the commit a run records, and when it is marked +dirty."""

import shutil
import subprocess

import pytest

from benchmarks import records

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(root, *args):
  done = subprocess.run(
    ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
    capture_output=True,
    text=True,
    check=True,
  )
  return done.stdout.strip()


@pytest.fixture
def repo(tmp_path):
  """A repository laid out like this one: code, and a committed result under benchmarks/results."""
  (tmp_path / "pilot_optax").mkdir()
  (tmp_path / "pilot_optax" / "step.py").write_text("x = 1\n")
  (tmp_path / records.RESULTS_DIR).mkdir(parents=True)
  (tmp_path / records.RESULTS_DIR / "table.md").write_text("| a |\n")
  _git(tmp_path, "init", "-q")
  _git(tmp_path, "add", ".")
  _git(tmp_path, "commit", "-q", "-m", "first")
  return tmp_path


def test_a_clean_checkout_records_its_commit(repo):
  assert records.source_revision(repo) == _git(repo, "rev-parse", "HEAD")


def test_a_changed_tracked_code_file_marks_the_run_dirty(repo):
  (repo / "pilot_optax" / "step.py").write_text("x = 2\n")
  assert records.source_revision(repo) == _git(repo, "rev-parse", "HEAD") + "+dirty"


def test_changed_results_and_untracked_files_do_not_mark_it_dirty(repo):
  # A table regenerated while a run trains changes no code; nor does a new, untracked file.
  (repo / records.RESULTS_DIR / "table.md").write_text("| b |\n")
  (repo / records.RESULTS_DIR / "new.json").write_text("{}")
  (repo / "scratch.py").write_text("")
  assert records.source_revision(repo) == _git(repo, "rev-parse", "HEAD")


def test_a_staged_code_change_still_marks_it_dirty(repo):
  (repo / records.RESULTS_DIR / "table.md").write_text("| b |\n")
  (repo / "pilot_optax" / "step.py").write_text("x = 3\n")
  _git(repo, "add", "pilot_optax/step.py")
  assert records.source_revision(repo).endswith("+dirty")


def test_outside_a_git_checkout_there_is_no_commit(tmp_path):
  assert records.source_revision(tmp_path) is None
