"""Chinese word segmentation with jieba, one dictionary per model.

``JiebaTokenizer`` never touches jieba's global tokenizer: user words added for one model cannot leak into
another, and the object pickles and clones (jieba's own tokenizer holds an RLock and cannot be pickled, so it
is built lazily and dropped on pickling). Tokenizers with the same user words share one jieba dictionary in
memory, read-only after construction.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import re
import tempfile
import threading
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path

from csnlp.exceptions import DataFormatError, InputError
from csnlp.text import EMOJI_RE, PLACEHOLDER_RE, WECHAT_EMOJI_RE

__all__ = ["JiebaTokenizer", "read_user_dict", "cache_dir"]

logger = logging.getLogger(__name__)

# Placeholders, WeChat codes and emoji are tokens of their own; jieba would cut them apart.
_PROTECTED_RE = re.compile("|".join([PLACEHOLDER_RE.pattern, WECHAT_EMOJI_RE.pattern, EMOJI_RE.pattern]))

_shared_lock = threading.Lock()
_shared: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def cache_dir() -> Path:
    """The per-user cache directory of csnlp (``$CSNLP_CACHE_DIR`` overrides it).

    Falls back to a folder in the system temporary directory when the home directory is read-only.
    """
    override = os.environ.get("CSNLP_CACHE_DIR")
    candidates = [Path(override)] if override else []
    try:
        import platformdirs

        candidates.append(Path(platformdirs.user_cache_dir("csnlp", appauthor=False)))
    except Exception:  # platformdirs cannot find a home: fall through to the temp dir
        logger.debug("no per-user cache directory available", exc_info=True)
    candidates.append(Path(tempfile.gettempdir()) / f"csnlp-cache-{os.getuid() if hasattr(os, 'getuid') else 0}")
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
            if os.access(path, os.W_OK):
                return path
        except OSError:
            continue
    return candidates[-1]


class _QuietJieba:
    """Silence jieba's logger while it builds a dictionary: its start-up lines (and, with an unwritable cache
    directory, a 'Dump cache file failed' traceback) would go to stderr. The dictionary still works."""

    def __enter__(self):
        self.logger = logging.getLogger("jieba")
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL + 1)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def _build_jieba(user_words: tuple[tuple[str, int | None, str | None], ...]):
    import jieba

    tk = jieba.Tokenizer()
    tk.tmp_dir = str(cache_dir())
    with _QuietJieba():
        tk.initialize()
        for word, freq, tag in user_words:
            tk.add_word(word, freq, tag)
    return tk


def _shared_jieba(user_words: tuple):
    with _shared_lock:
        tk = _shared.get(user_words)
        if tk is None:
            tk = _build_jieba(user_words)
            _shared[user_words] = tk
        return tk


def _check_freq(word, freq) -> int:
    # jieba takes log(freq): 0 is the only non-positive count it accepts (it deletes the word)
    if isinstance(freq, bool) or not isinstance(freq, numbers.Real) or not math.isfinite(freq) or freq < 0:
        raise InputError(
            f"user word {word!r}: freq must be a whole number >= 0 (or None for jieba's guess), got {freq!r}"
        )
    if freq != int(freq):
        raise InputError(f"user word {word!r}: freq must be a whole number, got {freq!r}: round it")
    return int(freq)


def _normalise_user_words(user_words) -> tuple[tuple[str, int | None, str | None], ...]:
    if user_words is None:
        return ()
    if isinstance(user_words, str):
        raise InputError("user_words must be a list of words, got a single str: wrap it in a list")
    out = []
    for item in user_words:
        if isinstance(item, str):
            word, freq, tag = item, None, None
        elif isinstance(item, (list, tuple)) and 1 <= len(item) <= 3 and isinstance(item[0], str):
            word = item[0]
            freq = _check_freq(word, item[1]) if len(item) > 1 and item[1] is not None else None
            tag = str(item[2]) if len(item) > 2 and item[2] is not None else None
        else:
            raise InputError(f"user_words entries must be str or (word, freq, tag), got {item!r}")
        word = word.strip()
        if not word or any(c.isspace() for c in word):
            raise InputError(f"user word {word!r} is empty or contains white space")
        out.append((word, freq, tag))
    return tuple(out)


def read_user_dict(path: str | os.PathLike) -> list[tuple[str, int | None, str | None]]:
    """Read a jieba user dictionary (one ``word [freq] [tag]`` per line, UTF-8).

    The words are returned, not loaded anywhere: pass them as ``user_words`` so that they are saved inside
    the model. Blank lines and lines starting with ``#`` are skipped.

    Raises
    ------
    DataFormatError
        A line has a frequency that is not a whole number; the message names file and line.
    """
    words = []
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            freq = None
            if len(parts) > 1:
                if not parts[1].isdigit():
                    raise DataFormatError(f"{path} line {lineno}: frequency {parts[1]!r} is not a whole number")
                freq = int(parts[1])
            words.append((parts[0], freq, parts[2] if len(parts) > 2 else None))
    return words


class JiebaTokenizer:
    """Segment (normalised) Chinese text into words with a private jieba dictionary.

    Parameters
    ----------
    user_words : list of str or (word, freq, tag), optional
        Extra dictionary words (product names, slang). Saved inside any model that uses the tokenizer.
    stop_words : list of str, optional
        Tokens dropped by ``__call__`` (the analyser used for features); ``tokenize`` keeps them.
    hmm : bool, default True
        Let jieba guess words missing from its dictionary with its HMM (slower, better on new words).

    Examples
    --------
    >>> tok = JiebaTokenizer(user_words=["运费险"])
    >>> tok.tokenize("运费险怎么赔<PHONE>[微笑]")
    ['运费险', '怎么', '赔', '<PHONE>', '[微笑]']
    """

    def __init__(
        self,
        *,
        user_words: Sequence | None = None,
        stop_words: Iterable[str] | None = None,
        hmm: bool = True,
    ) -> None:
        self.user_words = user_words
        self.stop_words = stop_words
        self.hmm = hmm
        self._jieba = None
        self._stop = None

    # sklearn-style parameters, so that clone() and repr work when the tokenizer is a parameter.
    def get_params(self, deep: bool = True) -> dict:
        return {"user_words": self.user_words, "stop_words": self.stop_words, "hmm": self.hmm}

    def set_params(self, **params) -> JiebaTokenizer:
        for key, value in params.items():
            if key not in self.get_params():
                raise ValueError(f"unknown parameter {key!r} for JiebaTokenizer")
            setattr(self, key, value)
        self._jieba = None
        self._stop = None
        return self

    def __repr__(self) -> str:
        n = len(self.user_words or ())
        return f"JiebaTokenizer(user_words=<{n} words>, hmm={self.hmm})"

    def __getstate__(self) -> dict:
        return {"user_words": self.user_words, "stop_words": self.stop_words, "hmm": self.hmm}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JiebaTokenizer) and self.__getstate__() == other.__getstate__()

    def __hash__(self) -> int:
        return hash((_normalise_user_words(self.user_words), self.hmm))

    def _ensure(self):
        if self._jieba is None:
            self._stop = frozenset(self.stop_words or ())
            self._jieba = _shared_jieba(_normalise_user_words(self.user_words))
        return self._jieba

    def tokenize(self, text: str) -> list[str]:
        """All tokens of ``text``, white space included: ``"".join(tokenize(t)) == t``."""
        if not isinstance(text, str):
            raise InputError(f"text must be str, got {type(text).__name__}")
        jb = self._ensure()
        tokens: list[str] = []
        pos = 0
        for m in _PROTECTED_RE.finditer(text) if ("<" in text or "[" in text or not text.isascii()) else ():
            if m.start() > pos:
                tokens.extend(jb.cut(text[pos : m.start()], HMM=self.hmm))
            tokens.append(m.group())
            pos = m.end()
        if pos < len(text):
            tokens.extend(jb.cut(text[pos:], HMM=self.hmm))
        return tokens

    def tokens_many(self, texts: list[str]) -> list[list[str]]:
        """``[self(t) for t in texts]``, faster: one jieba pass over the texts joined by newlines.

        jieba never joins words across a newline, so the result is the same; texts that hold a newline or a
        carriage return themselves take the one-by-one path.
        """
        if any("\n" in t or "\r" in t for t in texts):
            return [self(t) for t in texts]
        self._ensure()
        stop = self._stop
        out: list[list[str]] = [[] for _ in texts]
        i = 0
        for t in self.tokenize("\n".join(texts)):
            if t == "\n":
                i += 1
            elif not t.isspace() and t not in stop:
                out[i].append(t)
        return out

    def __call__(self, text: str) -> list[str]:
        """Tokens for features: white space and stop words removed."""
        self._ensure()
        stop = self._stop
        return [t for t in self.tokenize(text) if not t.isspace() and t not in stop]
