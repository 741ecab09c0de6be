"""The World English Bible as bytes: a reader of SWORD zText modules and the fixed split by books.

Debian's ``sword-text-web`` installs the World English Bible (public domain) as the SWORD module
``engWEB2015eb`` under /usr/share/sword. A zText module is three files per testament
(``ot``/``nt``):

- ``.bzz``: zlib-compressed blocks (one book, or part of one, per block), one after another;
- ``.bzs``: per block, three little-endian uint32: offset in ``.bzz``, compressed size,
  uncompressed size;
- ``.bzv``: per index entry (module heading, book heading, chapter heading, verse, in the
  versification's order), block number (uint32), offset in the uncompressed block (uint32) and
  length (uint16).

Each entry holds OSIS markup. :func:`plain_text` keeps the words: footnotes (``<note>``), headings
(``<title>``, ``<speaker>``) and every tag go; a tag or note that stood between two words leaves a
space (the module holds ``God</w><note …>…</note><w …>created``, which must read "God created"),
no space is left before closing punctuation, and every entry (a verse) ends in a newline. Tokens
are the text's UTF-8 bytes (a vocabulary of 256). The books' introductions, the preface (before
Genesis) and the glossary (in Revelation's last entry) are text of the module too and are kept.

The split is by whole books, fixed: :data:`VALIDATION_BOOKS`, spread over both testaments and over
narrative, poetry, prophecy and letters (about 7% of the bytes, :func:`load_bible` reports the
count). No byte of a validation book is in the training text.
"""

from __future__ import annotations

import dataclasses
import html
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from benchmarks.data import DataError

DEFAULT_DIR = "/usr/share/sword"
MODULE = "engWEB2015eb"
TESTAMENTS = ("ot", "nt")
GENESIS_1_1 = "In the beginning, God created the heavens and the earth."
# Held out for validation, by OSIS name: history, wisdom, prophets, deuterocanon, gospel, letters.
VALIDATION_BOOKS = (
  "Ruth",
  "Eccl",
  "Lam",
  "Jonah",
  "Mic",
  "Tob",
  "Wis",
  "Mark",
  "Rom",
  "Gal",
  "Jas",
  "1John",
)
INSTALL_HINT = "on Debian: apt-get install sword-text-web"

_BLOCK = struct.Struct("<III")  # offset, compressed size, uncompressed size
_ENTRY = struct.Struct("<IIH")  # block, offset in block, size
_DROPPED = re.compile(r"<(note|title|speaker)\b[^>]*>.*?</\1>", re.S)
_SPACING_TAG = re.compile(r"</?(div|l|lg|lb|milestone|chapter|list|item|p)\b[^>]*>")
_ANY_TAG = re.compile(r"<[^>]*>")
_BOOK_START = re.compile(r'<div\b(?=[^>]*\btype="book")(?=[^>]*\bsID=)[^>]*\bosisID="([^"]+)"')
_CHAPTER = re.compile(r'<chapter\b(?=[^>]*\bsID=)[^>]*\bosisID="([^".]+)\.')


@dataclasses.dataclass(frozen=True)
class Book:
  name: str  # its OSIS name: Gen, Matt, ...
  text: str  # plain text, one line per index entry


@dataclasses.dataclass(frozen=True)
class Corpus:
  """A text split for language modelling, as UTF-8 bytes."""

  name: str
  train: np.ndarray  # uint8, the training books one after another
  valid: np.ndarray  # uint8, the validation books
  train_books: tuple[str, ...]
  valid_books: tuple[str, ...]


def plain_text(osis: str) -> str:
  """One entry's OSIS markup as plain text, ending in a newline (or '' when it holds no words)."""
  text = _DROPPED.sub(" ", osis)
  text = _SPACING_TAG.sub(" ", text)
  text = html.unescape(_ANY_TAG.sub("", text))
  text = re.sub(r"\s+", " ", text).strip()
  text = re.sub(r" (?=[,.;:!?’”)\]])", "", text)
  return text + "\n" if text else ""


def _read(path: Path) -> bytes:
  if not path.is_file():
    raise DataError(f"{path}: file not found (a SWORD zText module file; {INSTALL_HINT}).")
  return path.read_bytes()


def read_entries(module_dir: Path, testament: str) -> list[str]:
  """Every index entry of one testament of a zText module, as OSIS text (empty ones as '')."""
  blocks_raw = _read(module_dir / f"{testament}.bzs")
  entries_raw = _read(module_dir / f"{testament}.bzv")
  data = _read(module_dir / f"{testament}.bzz")
  if len(blocks_raw) % _BLOCK.size or len(entries_raw) % _ENTRY.size:
    raise DataError(f"{module_dir}/{testament}.bzs/.bzv: sizes not multiples of 12 and 10 bytes.")
  blocks = []
  for offset, size, full in _BLOCK.iter_unpack(blocks_raw):
    try:
      block = zlib.decompress(data[offset : offset + size])
    except zlib.error as e:
      raise DataError(f"{module_dir}/{testament}.bzz: block at {offset} is not zlib: {e}") from e
    if len(block) != full:
      raise DataError(f"{module_dir}/{testament}.bzz: block at {offset} holds {len(block)} bytes, "
                      f"its index says {full}.")  # fmt: skip
    blocks.append(block)
  entries = []
  for block, offset, size in _ENTRY.iter_unpack(entries_raw):
    if size == 0:
      entries.append("")
      continue
    if block >= len(blocks) or offset + size > len(blocks[block]):
      raise DataError(f"{module_dir}/{testament}.bzv: an entry points outside block {block}.")
    entries.append(blocks[block][offset : offset + size].decode("utf-8"))
  return entries


def split_books(entries: list[str]) -> list[Book]:
  """The entries grouped into books, in order.

  A book starts at its ``<div type="book" sID=…>``, or at a chapter marker of another book (the
  module puts the heading of Daniel's Greek portions in Hosea's heading entry: Hosea starts at
  its first chapter). Entries before the first book (the module's heading) join the first book.
  """
  names, texts = [], []
  for osis in entries:
    start = _BOOK_START.search(osis) or _CHAPTER.search(osis)
    if start and (not names or start.group(1) != names[-1]) or not names:
      names.append(start.group(1) if start else None)
      texts.append([])
    texts[-1].append(plain_text(osis))
  if names[0] is None and len(names) > 1:  # the module's heading, before the first book
    names, texts = names[1:], [texts[0] + texts[1], *texts[2:]]
  return [Book(name or "?", "".join(t)) for name, t in zip(names, texts, strict=True)]


def module_dir(data_dir: str | Path) -> Path:
  """The folder of :data:`MODULE`'s files, from its configuration in ``data_dir/mods.d``.

  SWORD finds a module by the ``[name]`` section heading a ``mods.d/*.conf`` file, not by the
  file's name.
  """
  data_dir = Path(data_dir)
  confs = sorted((data_dir / "mods.d").glob("*.conf"))
  for conf in confs:
    lines = conf.read_text(encoding="utf-8", errors="replace").splitlines()
    if any(line.strip().lower() == f"[{MODULE.lower()}]" for line in lines):
      return _data_path(conf, dict(line.split("=", 1) for line in lines if "=" in line))
  raise DataError(
    f"{data_dir / 'mods.d'}: no configuration of the module [{MODULE}] (the World English "
    f"Bible) among {len(confs)} .conf file(s); {INSTALL_HINT}."
  )


def _data_path(conf: Path, settings: dict[str, str]) -> Path:
  if settings.get("ModDrv", "").strip().lower() != "ztext":
    raise DataError(f"{conf}: ModDrv is {settings.get('ModDrv')!r}, expected zText.")
  if "DataPath" not in settings:
    raise DataError(f"{conf}: no DataPath line.")
  return conf.parent.parent / settings["DataPath"].strip()


def read_books(data_dir: str | Path = DEFAULT_DIR) -> list[Book]:
  """Every book of the module under ``data_dir``, Old Testament (with deuterocanon) then New."""
  directory = module_dir(data_dir)
  return [book for t in TESTAMENTS for book in split_books(read_entries(directory, t))]


def load_bible(data_dir: str | Path | None = None) -> Corpus:
  """The World English Bible, split by :data:`VALIDATION_BOOKS`, as UTF-8 bytes."""
  books = read_books(DEFAULT_DIR if data_dir is None else data_dir)
  found = {book.name for book in books}
  missing = [name for name in VALIDATION_BOOKS if name not in found]
  if missing:
    raise DataError(f"{data_dir or DEFAULT_DIR}: the module lacks the validation books {missing}.")
  train = [b for b in books if b.name not in VALIDATION_BOOKS]
  valid = [b for b in books if b.name in VALIDATION_BOOKS]

  def as_bytes(part):
    return np.frombuffer("".join(b.text for b in part).encode("utf-8"), np.uint8)

  return Corpus(
    "bible",
    as_bytes(train),
    as_bytes(valid),
    tuple(b.name for b in train),
    tuple(b.name for b in valid),
  )
