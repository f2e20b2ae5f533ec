"""Reading and validating labelled training data: JSONL, CSV/TSV with a header, and Rasa ``nlu.yml``.

Every problem names the file and the line. Nothing is dropped silently: a bad line raises
:class:`~csnlp.exceptions.DataFormatError`, or, with ``skip_bad_lines=True``, is skipped and listed in the
returned :class:`Dataset`'s ``bad_lines``.

Encodings: UTF-8 (with or without BOM) is tried first; a file that is not valid UTF-8 is read as GB18030
(a superset of GBK and GB2312, which is what Excel writes on Chinese Windows), unless ``encoding`` is given.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import math
import os
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from csnlp.exceptions import DataFormatError, InputError

__all__ = [
    "Dataset",
    "DataWarning",
    "load_dataset",
    "iter_text_records",
    "iter_labelled",
    "detect_encoding",
    "data_fingerprint",
    "TEXT_COLUMNS",
    "LABEL_COLUMNS",
]

logger = logging.getLogger(__name__)

#: Column names accepted for the text and the label in CSV/TSV files (first match wins).
TEXT_COLUMNS = ("text", "query", "sentence", "content", "question", "message", "内容", "文本", "问题", "消息")
LABEL_COLUMNS = ("label", "intent", "category", "tag", "标签", "意图", "类别", "分类")
LABELS_COLUMNS = ("labels", "tags", "categories")


class DataWarning(UserWarning):
    """Something in a data file is suspicious or unsupported but was not fatal (duplicates, rare labels...)."""


@dataclass
class Dataset:
    """Texts and labels read from a file, with what was found wrong in it.

    ``labels`` holds one str per text (single-label) or one list of str per text (multi-label).
    """

    texts: list[str]
    labels: list
    source: str = ""
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    conflicts: list[tuple[str, list[str]]] = field(default_factory=list)
    rare_labels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def multi_label(self) -> bool:
        return bool(self.labels) and isinstance(self.labels[0], list)

    def fingerprint(self) -> str:
        return data_fingerprint(self.texts, self.labels)


def data_fingerprint(texts, labels) -> str:
    """sha256 of the (text, label) pairs in order: identifies training data in a model's manifest."""
    h = hashlib.sha256()
    for text, label in zip(texts, labels):
        h.update(json.dumps([text, label], ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def detect_encoding(path: str | os.PathLike, sample_bytes: int = 1 << 20) -> str:
    """``"utf-8-sig"`` when the file (its first ``sample_bytes``) decodes as UTF-8, else ``"gb18030"``.

    A file whose first MiB is UTF-8 but which holds GBK bytes further on is read as UTF-8 and then fails
    with a decoding error that names the fix (``encoding="gbk"``).
    """
    with open(path, "rb") as fh:
        raw = fh.read(sample_bytes)
        truncated = bool(fh.read(1))
    # a multi-byte character may be cut at the end of the sample (only when the sample is not the whole file)
    for cut in range(4 if truncated else 1):
        try:
            raw[: len(raw) - cut].decode("utf-8")
            return "utf-8-sig"
        except UnicodeDecodeError:
            continue
    return "gb18030"


def _open_text(path: Path, encoding: str | None):
    enc = encoding or detect_encoding(path)
    try:
        "".encode(enc)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}: use e.g. utf-8, gbk or gb18030") from None
    return open(path, encoding=enc, errors="strict", newline="")


def _locate_undecodable(path: Path, enc: str) -> tuple[int, int]:
    """(line, byte offset in the file) of the first byte that ``enc`` cannot decode.

    The text reader decodes ahead in chunks, so its error knows neither: decode the file again, counting line
    breaks the way the readers do (``\r\n``, ``\r`` and ``\n`` each end a line).
    """
    decoder = codecs.getincrementaldecoder(enc)(errors="strict")
    line, offset, after_cr = 1, 0, False

    def count(text: str) -> None:
        nonlocal line, after_cr
        if text:
            line += text.count("\r") + text.count("\n") - text.count("\r\n") - (after_cr and text[0] == "\n")
            after_cr = text[-1] == "\r"

    with open(path, "rb") as fh:
        while piece := fh.readline(1 << 16):
            state = decoder.getstate()
            try:
                count(decoder.decode(piece))
            except UnicodeDecodeError as exc:
                good = max(0, min(len(piece), exc.start - len(state[0])))
                decoder.setstate(state)
                try:
                    count(decoder.decode(piece[:good]))
                except UnicodeError:
                    pass  # the line count is still right up to this piece
                return line, offset + good
            except UnicodeError:  # e.g. 'UTF-16 stream does not start with BOM': not tied to a byte
                return line, offset
            offset += len(piece)
    return line, offset


def _decode_error(path: Path, encoding: str | None, exc: UnicodeError) -> DataFormatError:
    enc = encoding or detect_encoding(path)
    name = codecs.lookup(enc).name
    try:
        line, byte = _locate_undecodable(path, enc)
    except (OSError, UnicodeError):
        line, byte = None, getattr(exc, "start", None)
    reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
    if "BOM" in reason:
        fix = "pass the byte order instead (CLI: --encoding utf-16-le, or utf-16-be)"
    elif name.startswith("utf-8"):
        fix = "pass the right encoding (CLI: --encoding gbk)"
    elif name in ("gbk", "gb2312", "gb18030"):
        fix = "fix the damaged bytes there or pass the right encoding (CLI: --encoding utf-8)"
    else:
        fix = "pass the right encoding (CLI: --encoding utf-8 or --encoding gbk)"
    where = f"{path} line {line}" if line is not None else str(path)
    at = f" at byte {byte}" if byte is not None and isinstance(exc, UnicodeDecodeError) else ""
    return DataFormatError(f"{where}: cannot be decoded as {enc} ({reason}{at}): {fix}")


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        fmt = fmt.lower()
        if fmt not in ("jsonl", "csv", "tsv", "rasa"):
            raise InputError(f"unknown format {fmt!r}: use jsonl, csv, tsv or rasa")
        return fmt
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".tsv"):
        return "tsv"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".yml", ".yaml")):
        return "rasa"
    raise InputError(f"{path}: cannot tell the format from the file name: pass format='jsonl'|'csv'|'tsv'|'rasa'")


def _clean_label(value, where: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise DataFormatError(f"{where}: label is missing")
    if isinstance(value, (dict, list)):
        raise DataFormatError(f"{where}: label must be a single value, got {type(value).__name__}")
    label = str(value).strip()
    if not label:
        raise DataFormatError(f"{where}: label is empty")
    return label


def _clean_labels(value, where: str) -> list[str]:
    if isinstance(value, str):
        parts = [p for p in re.split(r"[|,;，；、]", value) if p.strip()]
    elif isinstance(value, list):
        parts = value
    else:
        raise DataFormatError(f"{where}: labels must be a list (or a '|'-separated str), got {type(value).__name__}")
    labels = sorted({_clean_label(p, where) for p in parts})
    return labels


def _clean_text(value, where: str) -> str:
    if not isinstance(value, str):
        raise DataFormatError(f"{where}: text must be a string, got {type(value).__name__}")
    if not value.strip():
        raise DataFormatError(f"{where}: text is empty")
    return value.strip()


def _records_jsonl(path: Path, encoding: str | None) -> Iterator[tuple[int, dict | Exception]]:
    try:
        with _open_text(path, encoding) as fh:
            for lineno, line in enumerate(fh, 1):
                if lineno == 1:
                    line = line.lstrip("\ufeff")  # a BOM even when the caller named plain utf-8
                if not line.strip():
                    continue
                obj = _json_line(line, f"{path} line {lineno}")
                if isinstance(obj, Exception):
                    yield lineno, obj
                    continue
                if not isinstance(obj, dict):
                    yield lineno, DataFormatError(f"{path} line {lineno}: expected a JSON object, got {type(obj).__name__}")
                    continue
                yield lineno, obj
    except UnicodeError as exc:  # not only UnicodeDecodeError: utf-16 without a BOM raises a plain UnicodeError
        raise _decode_error(path, encoding, exc) from None


def _json_line(line: str, where: str):
    """The parsed line, or a DataFormatError to report as a bad line."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return DataFormatError(f"{where}: not valid JSON ({exc.msg})")
    except RecursionError:
        return DataFormatError(f"{where}: not valid JSON (nested too deeply)")
    except ValueError as exc:  # an integer of more than 4300 digits
        return DataFormatError(f"{where}: not valid JSON ({exc})")


def _pick(header: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header if h}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


class _Lines:
    """The physical lines of a file for csv.reader, numbered, with a way to read some of them again.

    csv.reader takes no more lines than the record it returns, so after a bad record the lines it swallowed
    can be pushed back and read by a new reader.
    """

    def __init__(self, fh):
        self._numbered = enumerate(fh, 1)
        self._again: list[tuple[int, str]] = []
        self.taken: list[tuple[int, str]] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        item = self._again.pop() if self._again else next(self._numbered)
        self.taken.append(item)
        return item[1]

    def read_again(self, items: list[tuple[int, str]]) -> None:
        self._again.extend(reversed(items))


def _strictly_quoted(taken: list[tuple[int, str]], delimiter: str) -> bool:
    # Every line opening with a stray quote pairs with the next one ('"a,x' + '"b,x' -> 'a,x\nb', 'x'): only
    # strict parsing sees the text after the closing quote. Checked on multi-line records only, so that a
    # one-line 'say "hi" now' stays readable as before.
    try:
        next(csv.reader((line for _, line in taken), delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    return True


def _records_csv(path: Path, encoding: str | None, delimiter: str) -> Iterator[tuple[int, dict | Exception]]:
    try:
        with _open_text(path, encoding) as fh:
            lines = _Lines(fh)
            reader = csv.reader(lines, delimiter=delimiter)
            try:
                header = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataFormatError(f"{path} line 1: broken CSV header ({exc}): fix the header line") from None
            header = [h.strip().lstrip("\ufeff") for h in header]
            width = len(header)
            label_cols = [i for i, h in enumerate(header) if h.lower() in LABEL_COLUMNS + LABELS_COLUMNS]
            while True:
                lines.taken = []
                try:
                    row, problem = next(reader), None
                except StopIteration:
                    return
                except csv.Error as exc:
                    row, problem = None, f"broken CSV: {exc}"
                if not lines.taken:
                    return
                lineno = lines.taken[0][0]  # where the record starts: where a stray quote sits
                spans = len(lines.taken) > 1
                if row is not None:
                    if not row or not any(cell.strip() for cell in row):
                        continue
                    if len(row) != width:
                        problem = f"expected {width} fields like the header, got {len(row)}"
                    elif spans and any("\n" in row[i] or "\r" in row[i] for i in label_cols):
                        problem = "a label cannot hold a line break"
                    elif spans and not _strictly_quoted(lines.taken, delimiter):
                        problem = "text follows the closing quote"
                if problem is None:
                    yield lineno, dict(zip(header, row))
                    continue
                if spans:
                    # A quote opened on this line swallowed the lines after it: report this line only and read
                    # the others again as records of their own, so that nothing disappears.
                    problem = (
                        f"a quoted field runs from here to line {lines.taken[-1][0]} ({problem}): "
                        'close the quote, or double a quote inside the text ("")'
                    )
                    lines.read_again(lines.taken[1:])
                    reader = csv.reader(lines, delimiter=delimiter)
                elif row is None:
                    problem += ": fix the quoting on this line"
                else:
                    problem += " (an unquoted delimiter or a broken line?)"
                yield lineno, DataFormatError(f"{path} line {lineno}: {problem}")
    except UnicodeError as exc:  # not only UnicodeDecodeError: utf-16 without a BOM raises a plain UnicodeError
        raise _decode_error(path, encoding, exc) from None


_RASA_ENTITY_RE = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def _records_rasa(path: Path, encoding: str | None, notes: list[str]) -> Iterator[tuple[int, dict | Exception]]:
    import yaml

    try:
        with _open_text(path, encoding) as fh:
            doc = yaml.safe_load(fh)
    except UnicodeError as exc:
        raise _decode_error(path, encoding, exc) from None
    except RecursionError:
        raise DataFormatError(f"{path}: not valid YAML (nested too deeply)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise DataFormatError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nlu"), list):
        raise DataFormatError(f"{path}: expected a Rasa NLU file with a top-level 'nlu:' list")
    skipped = Counter()
    entity_examples = 0
    for i, item in enumerate(doc["nlu"], 1):
        if not isinstance(item, dict):
            yield i, DataFormatError(f"{path} nlu item {i}: expected a mapping")
            continue
        if "intent" not in item:
            skipped[next(iter(item), "unknown")] += 1
            continue
        examples = item.get("examples", "")
        if not isinstance(examples, str):
            yield i, DataFormatError(f"{path} nlu item {i} ({item['intent']}): 'examples' must be a block of '- text' lines")
            continue
        for line in examples.splitlines():
            line = line.strip()
            if not line:
                continue
            if not line.startswith("- "):
                yield i, DataFormatError(f"{path} intent {item['intent']}: example line {line!r} does not start with '- '")
                continue
            text = line[2:].strip()
            if _RASA_ENTITY_RE.search(text):
                entity_examples += 1
                text = _RASA_ENTITY_RE.sub(r"\1", text)
            yield i, {"text": text, "label": item["intent"]}
    for kind, count in skipped.items():
        msg = f"{path}: {count} '{kind}' item(s) skipped: csnlp trains intents only (synonyms, regexes, lookups unsupported)"
        notes.append(msg)
        warnings.warn(msg, DataWarning, stacklevel=4)
    if entity_examples:
        msg = f"{path}: entity annotations removed from {entity_examples} example(s); the text was kept"
        notes.append(msg)
        warnings.warn(msg, DataWarning, stacklevel=4)


def iter_text_records(lines, source: str = "<stdin>") -> Iterator[tuple[int, dict | Exception]]:
    """Parse input lines that are plain text or JSONL objects with a ``text`` field (for predict/route/tag).

    Yields ``(line_number, record)``; a record is a dict with at least ``text``, or an exception describing
    a bad line. Blank lines are skipped.
    """
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            obj = _json_line(line, f"{source} line {lineno}")
            if isinstance(obj, Exception):
                yield lineno, obj
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                yield lineno, DataFormatError(f"{source} line {lineno}: JSON object has no string 'text' field")
                continue
            yield lineno, obj
        else:
            yield lineno, {"text": line}


def load_dataset(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    encoding: str | None = None,
    multi_label: bool | None = None,
    skip_bad_lines: bool = False,
) -> Dataset:
    """Read labelled texts from a JSONL, CSV/TSV or Rasa ``nlu.yml`` file.

    Parameters
    ----------
    path : str or path-like
    format : {"jsonl", "csv", "tsv", "rasa"}, optional
        Default: from the file name.
    encoding : str, optional
        Default: UTF-8 (BOM allowed), or GB18030 when the file is not valid UTF-8.
    multi_label : bool, optional
        Read ``labels`` (a list, or ``a|b`` in CSV) instead of ``label``. Default: multi-label when the
        records carry ``labels``; a single ``label`` then counts as a one-element list.
    skip_bad_lines : bool, default False
        Skip lines that cannot be read and list them in ``Dataset.bad_lines`` instead of raising.

    Returns
    -------
    Dataset

    Raises
    ------
    FileNotFoundError, DataFormatError
        The message names the file and the line.
    """
    path = Path(path)
    notes: list[str] = []
    texts: list[str] = []
    labels: list = []
    bad: list[tuple[int, str]] = []
    for lineno, item in iter_labelled(path, format=format, encoding=encoding, multi_label=multi_label, notes=notes):
        if isinstance(item, DataFormatError):
            if not skip_bad_lines:
                raise item
            bad.append((lineno, str(item)))
            continue
        texts.append(item[0])
        labels.append(item[1])

    if not texts and not bad:
        raise DataFormatError(f"{path}: no records found (empty file?)")
    if not texts:
        raise DataFormatError(f"{path}: all {len(bad)} records are bad; first: {bad[0][1]}")
    ds = Dataset(texts, labels, str(path), bad_lines=bad, notes=notes)
    _check_quality(ds)
    if bad:
        logger.warning("%s: skipped %d bad line(s), first at line %d", path, len(bad), bad[0][0])
    return ds


def iter_labelled(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    encoding: str | None = None,
    multi_label: bool | None = None,
    notes: list[str] | None = None,
) -> Iterator[tuple[int, tuple[str, object] | DataFormatError]]:
    """Stream ``(line_number, (text, label))`` from a labelled file, or ``(line_number, DataFormatError)``
    for a bad record; what :func:`load_dataset` reads, one record at a time (constant memory).

    A header without a text or label column raises at once: that is the file's fault, not a line's.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}")
    fmt = _format_of(path, format)
    notes = notes if notes is not None else []
    if fmt == "jsonl":
        records = _records_jsonl(path, encoding)
    elif fmt == "rasa":
        records = _records_rasa(path, encoding, notes)
    else:
        records = _records_csv(path, encoding, "\t" if fmt == "tsv" else ",")
    keys = None
    per_record = fmt != "csv" and fmt != "tsv"  # JSON records may each name their fields differently
    for lineno, rec in records:
        if isinstance(rec, dict) and keys is None:
            if multi_label is None:
                multi_label = _pick(list(rec), LABELS_COLUMNS) is not None
            if not per_record:
                keys = _resolve_keys(path, list(rec), multi_label)  # a wrong header is fatal, not a bad line
        try:
            if isinstance(rec, Exception):
                raise rec
            where = f"{path} line {lineno}"
            rec_keys = _resolve_keys(where, list(rec), multi_label, record=True) if per_record else keys
            yield lineno, _parse_record(rec, rec_keys, where)
        except DataFormatError as exc:
            yield lineno, exc


def _resolve_keys(path, keys: list[str], multi_label: bool, record: bool = False):
    text_key = _pick(keys, TEXT_COLUMNS)
    label_key = _pick(keys, LABEL_COLUMNS)
    labels_key = _pick(keys, LABELS_COLUMNS)
    if record and text_key is None:
        raise DataFormatError(f'{path}: "text" is missing')
    if record and label_key is None and labels_key is None:
        raise DataFormatError(f'{path}: "{"labels" if multi_label else "label"}" is missing')
    if text_key is None:
        raise DataFormatError(f"{path}: no text column among {keys}: name it 'text' (or one of {TEXT_COLUMNS[:5]})")
    if label_key is None and labels_key is None:
        wanted = "labels" if multi_label else "label"
        raise DataFormatError(f"{path}: no {wanted} column among {keys}: name it '{wanted}'")
    if not multi_label and label_key is None:
        raise DataFormatError(f"{path}: only a multi-label 'labels' column found: read it with multi_label=True")
    return text_key, label_key, labels_key, multi_label


def _parse_record(rec: dict, keys, where: str):
    text_key, label_key, labels_key, multi_label = keys
    if text_key not in rec:
        raise DataFormatError(f'{where}: "{text_key}" is missing')
    text = _clean_text(rec[text_key], where)
    if multi_label:
        if labels_key and labels_key in rec:
            return text, _clean_labels(rec[labels_key], where)
        if label_key and label_key in rec:
            return text, [_clean_label(rec[label_key], where)]
        raise DataFormatError(f'{where}: "labels" is missing')
    if label_key not in rec:
        raise DataFormatError(f'{where}: "{label_key}" is missing')
    return text, _clean_label(rec[label_key], where)


def _check_quality(ds: Dataset) -> None:
    by_text: dict[str, set] = defaultdict(set)
    for text, label in zip(ds.texts, ds.labels):
        by_text[text].add(tuple(label) if isinstance(label, list) else label)
    ds.conflicts = [(t, sorted(map(str, ls))) for t, ls in by_text.items() if len(ls) > 1]
    if ds.conflicts:
        msg = (
            f"{ds.source}: {len(ds.conflicts)} text(s) appear with conflicting labels, e.g. "
            f"{ds.conflicts[0][0]!r} -> {ds.conflicts[0][1]}: fix the labels"
        )
        ds.notes.append(msg)
        warnings.warn(msg, DataWarning, stacklevel=3)
    counts = Counter(l for ls in ds.labels for l in (ls if isinstance(ls, list) else [ls]))
    ds.rare_labels = sorted(l for l, c in counts.items() if c < 2)
    if ds.rare_labels:
        msg = f"{ds.source}: label(s) with fewer than 2 examples: {ds.rare_labels[:10]}: add examples or merge them"
        ds.notes.append(msg)
        warnings.warn(msg, DataWarning, stacklevel=3)
