"""benchmarks.text: the zText reader, the markup stripped, the split by books; on files this test
writes in the module's format (and on the installed World English Bible, when there is one)."""

from pathlib import Path

import numpy as np
import pytest
from bench_files import osis_book, write_ztext

from benchmarks import text
from benchmarks.data import DataError


def _tiny_bible(root: Path, verses_per_book: int = 3) -> dict[str, list[str]]:
  """Every validation book and three training books, each verse naming its book."""
  names = ["Gen", "Exod", *text.VALIDATION_BOOKS[:6]], ["Matt", *text.VALIDATION_BOOKS[6:]]
  verses = {
    n: [f"{n} verse {k} says hello." for k in range(verses_per_book)] for n in sum(names, [])
  }
  module_heading = '<milestone type="x-importer" n="$Rev$"/>'
  write_ztext(
    root,
    {
      t: ["", module_heading] + sum((osis_book(n, verses[n]) for n in group), [])
      for t, group in zip(("ot", "nt"), names, strict=True)
    },
  )
  return verses


def test_a_note_between_two_words_leaves_a_space_not_glued_words():
  osis = (
    '<w lemma="strong:H0430">God</w><note placement="foot"><reference type="annotateRef">1:1 '
    "</reference>The Hebrew word rendered “God” is “Elohim”.</note><w>created</w> the earth."
  )
  assert text.plain_text(osis) == "God created the earth.\n"


def test_markup_goes_and_no_space_is_left_before_closing_punctuation():
  assert (
    text.plain_text('<w>gods</w>.<note n="a">x</note>” <div eID="p1" type="x-p"/>') == "gods.”\n"
  )
  assert text.plain_text('<title type="main">Heading</title><w>Yes</w>, &amp; no') == "Yes, & no\n"
  assert text.plain_text('<l level="1" sID="a"/>one<l eID="a"/><l sID="b"/>two') == "one two\n"
  assert text.plain_text('<chapter n="1" osisID="Gen.1" sID="Gen.1"/>') == ""


def test_the_reader_gives_every_entry_of_every_block(tmp_path):
  entries = ["", "heading", "", "Äbc", "d" * 60_000, "last"]
  data = write_ztext(tmp_path, {"ot": entries})
  assert text.read_entries(data, "ot") == entries


def test_books_are_split_at_their_headings_and_verses_end_in_newlines(tmp_path):
  verses = _tiny_bible(tmp_path)
  books = text.read_books(tmp_path)
  assert [b.name for b in books] == list(verses)
  assert books[1].text == "".join(f"{v}\n" for v in verses["Exod"])
  assert books[0].text.endswith(f"{verses['Gen'][-1]}\n")


def test_the_split_is_by_whole_books_and_no_validation_byte_is_trained_on(tmp_path):
  verses = _tiny_bible(tmp_path)
  corpus = text.load_bible(tmp_path)
  assert set(corpus.valid_books) == set(text.VALIDATION_BOOKS)
  assert set(corpus.train_books) == {"Gen", "Exod", "Matt"}
  train, valid = bytes(corpus.train).decode(), bytes(corpus.valid).decode()
  for name, lines in verses.items():
    inside, outside = (valid, train) if name in text.VALIDATION_BOOKS else (train, valid)
    assert all(line in inside and line not in outside for line in lines)
  assert corpus.train.dtype == np.uint8


def test_missing_module_or_a_broken_file_is_a_one_line_error_naming_it(tmp_path):
  with pytest.raises(DataError, match="apt-get install sword-text-web"):
    text.load_bible(tmp_path / "nothing")
  data = write_ztext(tmp_path, {"ot": ["", "a", "b"], "nt": ["", "c"]})
  with pytest.raises(DataError, match="validation books"):
    text.load_bible(tmp_path)
  (data / "nt.bzz").write_bytes(b"not zlib at all")
  with pytest.raises(DataError, match="nt.bzz: block at 0 is not zlib"):
    text.read_books(tmp_path)
  (data / "nt.bzv").unlink()
  with pytest.raises(DataError, match="nt.bzv: file not found"):
    text.read_books(tmp_path)


@pytest.mark.skipif(
  not Path(text.DEFAULT_DIR, "mods.d").is_dir(), reason="sword-text-web is not installed"
)
def test_the_installed_world_english_bible_begins_as_it_should():
  books = text.read_books()
  genesis = books[0]
  assert genesis.name == "Gen" and f"\n{text.GENESIS_1_1}\n" in genesis.text
  corpus = text.load_bible()
  share = len(corpus.valid) / (len(corpus.valid) + len(corpus.train))
  assert 0.05 < share < 0.10 and b"Godcreated" not in bytes(corpus.train)
