"""Text features: TF-IDF over jieba word n-grams plus character n-grams of the preprocessed text.

Words carry meaning (退货 vs 换货); character n-grams survive typos, homophones, slang and words jieba cuts
badly. Each block is L2-normalised on its own, so neither drowns the other.
"""

from __future__ import annotations

import logging
import math
import operator
import re
from collections import Counter
from functools import partial
from itertools import chain

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from csnlp._validation import MAX_TEXT_LENGTH, check_texts
from csnlp.exceptions import InputError
from csnlp.text import preprocess
from csnlp.tokenizer import JiebaTokenizer

__all__ = ["TextFeatures", "preprocess_texts"]

logger = logging.getLogger(__name__)

#: The TextFeatures parameters that IntentClassifier and FeedbackTagger take and pass through.
FEATURE_PARAMS = ("word_ngram_range", "char_ngram_range", "min_df", "max_features", "sublinear_tf", "user_words",
                  "stop_words", "hmm", "max_length")


def preprocess_texts(texts: list[str], max_length: int | None = None) -> list[str]:
    """Normalise and mask each text (see :func:`csnlp.text.preprocess`), cut to ``max_length`` characters."""
    if max_length is not None:
        texts = [t[:max_length] for t in texts]
    return [preprocess(t).text for t in texts]


class TextFeatures(TransformerMixin, BaseEstimator):
    """TF-IDF features of raw chat texts: word n-grams (jieba) + character n-grams.

    Parameters
    ----------
    word_ngram_range : tuple (min_n, max_n), default (1, 2)
        Word n-grams; ``None`` switches word features off.
    char_ngram_range : tuple (min_n, max_n), default (1, 3)
        Character n-grams; ``None`` switches them off.
    min_df : int, default 1
        Drop n-grams seen in fewer training texts.
    max_features : int or None, default None
        Keep only this many of the most frequent n-grams per block (bounded model size on big data).
    sublinear_tf : bool, default True
        Use 1 + log(tf), so repeated words (急急急) do not dominate.
    user_words, stop_words, hmm
        Passed to :class:`~csnlp.tokenizer.JiebaTokenizer`.
    max_length : int, default 2000
        Texts longer than this (in characters) are cut before featurisation.
    preprocessed : bool, default False
        Inputs are already :func:`~csnlp.text.preprocess`-ed (skips that step; used inside the classifier).
    """

    def __init__(
        self,
        *,
        word_ngram_range: tuple[int, int] | None = (1, 2),
        char_ngram_range: tuple[int, int] | None = (1, 3),
        min_df: int = 1,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        user_words=None,
        stop_words=None,
        hmm: bool = True,
        max_length: int = MAX_TEXT_LENGTH,
        preprocessed: bool = False,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.user_words = user_words
        self.stop_words = stop_words
        self.hmm = hmm
        self.max_length = max_length
        self.preprocessed = preprocessed

    def _prepare(self, X) -> list[str]:
        texts = check_texts(X)
        if self.preprocessed:
            return [t[: self.max_length] for t in texts]
        return preprocess_texts(texts, self.max_length)

    def _blocks(self) -> list[_Block]:
        out = []
        if self.word_ngram_range is not None:
            tokenizer = JiebaTokenizer(user_words=self.user_words, stop_words=self.stop_words, hmm=self.hmm)
            out.append(_Block("word", tuple(self.word_ngram_range), tokenizer))
        if self.char_ngram_range is not None:
            out.append(_Block("char", tuple(self.char_ngram_range)))
        if not out:
            raise ValueError("word_ngram_range and char_ngram_range are both None: switch at least one on")
        return out

    def fit(self, X, y=None) -> TextFeatures:
        """Learn the vocabularies and IDF weights from raw texts."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None) -> sp.csr_matrix:
        """Fit, and return the features of the training texts (each text analysed once)."""
        texts = self._prepare(X)
        if not texts:
            raise InputError("cannot fit on an empty list of texts: pass at least one text per class")
        blocks = self._blocks()
        grams = {b.name: [Counter(b._grams(u)[0]) for u in b.units_many(texts)] for b in blocks}
        for b in blocks:
            b.fit(grams[b.name], self.min_df, self.max_features)
            if not b.vocabulary:
                raise InputError(f"no {b.name} features could be built from the training texts: are they all empty?")
        self.blocks_ = blocks
        self.n_features_out_ = sum(len(b.vocabulary) for b in blocks)
        return self._matrix(grams, len(texts))[0]

    def transform(self, X, return_stats: bool = False):
        """Sparse TF-IDF matrix, one row per text (rows of empty texts are all zero).

        With ``return_stats=True`` also an (n, n_blocks) array: per text and block, the share of its
        distinct words (word block) or character bigrams (char block) that the vocabulary knows. Messages
        of intents the model never saw tend to have a low share; the router's answer model uses it.
        """
        check_is_fitted(self, "blocks_")
        return self._transform(self._prepare(X), return_stats)

    def _transform(self, texts: list[str], return_stats: bool = False):
        # the unwrapped hot path (TransformerMixin wraps ``transform`` with output-container handling)
        if len(texts) < _VECTORISE_FROM:
            grams = {b.name: [Counter(b.analyze(t)) for t in texts] for b in self.blocks_}
            X_, stats = self._matrix(grams, len(texts), return_stats)
            return (X_, stats) if return_stats else X_
        distinct = dict.fromkeys(texts)
        if len(distinct) < 0.9 * len(texts):
            # real traffic repeats itself (你好, 在吗, 转人工): featurise each distinct text once
            where = {t: i for i, t in enumerate(distinct)}
            index = np.fromiter((where[t] for t in texts), dtype=np.int64, count=len(texts))
            if return_stats:
                X_, stats = self._transform(list(distinct), return_stats=True)
                return X_[index], stats[index]
            return self._transform(list(distinct))[index]
        n = len(texts)
        stats = np.zeros((n, len(self.blocks_)))
        rows, cols, values, offset = [], [], [], 0
        for k, b in enumerate(self.blocks_):
            r, c, w, share = b.encode(texts, self.sublinear_tf, return_stats)
            rows.append(r)
            cols.append(c + offset)
            values.append(w)
            stats[:, k] = share
            offset += len(b.vocabulary)
        r, c, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(values)
        # each block is sorted by (row, column) and blocks come in column order: a stable sort by row is CSR order
        order = np.argsort(r, kind="stable")
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
        X_ = sp.csr_matrix(
            (w[order].astype(np.float32), c[order].astype(np.int32), indptr.astype(np.int32)), shape=(n, offset)
        )
        return (X_, stats) if return_stats else X_

    def _matrix(self, grams: dict, n: int, with_stats: bool = False) -> tuple[sp.csr_matrix, np.ndarray]:
        """One CSR matrix for all blocks, built in a single pass (no per-block matrices to stack)."""
        stats = np.zeros((n, len(self.blocks_)))
        rows = [[] for _ in range(n)]
        offset = 0
        for k, b in enumerate(self.blocks_):
            for r, (cols, vals, share) in enumerate(b.rows(grams[b.name], self.sublinear_tf, offset, with_stats)):
                rows[r].append((cols, vals))
                stats[r, k] = share
            offset += len(b.vocabulary)
        indptr, indices, values = [0], [], []
        for parts in rows:
            for cols, vals in parts:
                indices.extend(cols)
                values.extend(vals)
            indptr.append(len(indices))
        m = sp.csr_matrix(
            (np.asarray(values, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int32)),
            shape=(n, offset),
        )
        return m, stats

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "blocks_")
        names = []
        for b in self.blocks_:
            names.extend(f"{b.name}:{term}" for term in b.terms())
        return np.asarray(names, dtype=object)

    # -- persistence: plain vocabularies and IDF arrays, no pickled objects -----------------------------------
    def _to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        check_is_fitted(self, "blocks_")
        vocab = {b.name: b.terms() for b in self.blocks_}
        arrays = {f"{b.name}_idf": b.idf for b in self.blocks_}
        return vocab, arrays

    @classmethod
    def _from_state(cls, params: dict, vocab: dict, arrays: dict[str, np.ndarray]) -> TextFeatures:
        self = cls(**params)
        blocks = self._blocks()
        for b in blocks:
            b.vocabulary = {t: i for i, t in enumerate(vocab[b.name])}
            b.set_idf(arrays[f"{b.name}_idf"])
        self.blocks_ = blocks
        self.n_features_out_ = sum(len(b.vocabulary) for b in blocks)
        return self


_SPACES_RE = re.compile(r"\s\s+")
_is_known = partial(operator.is_not, None)
#: Batches from this size on take the vectorised path; smaller ones the per-text one (less numpy overhead).
_VECTORISE_FROM = 16


class _Block:
    """One TF-IDF block (word or character n-grams), computed like scikit-learn's TfidfVectorizer
    (smooth idf, optional sublinear tf, L2-normalised rows) in one pass over pre-analysed n-grams."""

    def __init__(self, name: str, ngram_range: tuple[int, int], tokenizer=None) -> None:
        self.name, self.ngram_range, self.tokenizer = name, ngram_range, tokenizer
        self.vocabulary: dict[str, int] = {}
        self.set_idf(np.zeros(0))

    def analyze(self, text: str) -> list[str]:
        return self._grams(self._units(text))[0]

    def _units(self, text: str):
        # tokens for the word block, the text with runs of spaces collapsed for the character block
        return self.tokenizer(text) if self.name == "word" else _SPACES_RE.sub(" ", text)

    def units_many(self, texts: list[str]) -> list:
        """:meth:`_units` of many texts (the word block segments them in one jieba pass)."""
        if self.name == "word":
            return self.tokenizer.tokens_many(texts)
        return [self._units(t) for t in texts]

    @property
    def _stat_order(self) -> int:
        # words themselves, but character bigrams: nearly every single character is known
        lo, hi = self.ngram_range
        return lo if self.name == "word" else min(max(lo, 2), hi)

    def _grams(self, units) -> tuple[list[str], int, int]:
        """The n-grams of ``units`` (tokens or characters) by increasing n, and the slice holding the
        n-grams of the order the coverage statistic counts."""
        lo, hi = self.ngram_range
        order = self._stat_order
        grams = list(units) if lo == 1 else []
        start, stop = 0, len(grams)
        previous = units  # character (n-1)-grams by start position: n-grams are built with C-level map calls
        for n in range(2, hi + 1):
            if self.name == "word":
                current = list(map(" ".join, zip(*(units[k:] for k in range(n)))))
            else:
                current = list(map(operator.add, previous[: len(previous) - 1], units[n - 1 :]))
            previous = current
            if n < lo:
                continue
            if n == order:
                start = len(grams)
            grams.extend(current)
            if n == order:
                stop = len(grams)
        return grams, start, stop

    def encode(self, texts: list[str], sublinear_tf: bool, with_stats: bool = False):
        """Vectorised :meth:`rows` for a batch: (row ids, column ids, L2-normalised TF-IDF weights, known share).

        Python only looks n-grams up in the vocabulary; counting, weighting and normalising are numpy calls.
        """
        get, vocab = self.vocabulary.get, self.vocabulary
        units = self.units_many(texts)
        n = len(texts)
        found: list[int] = []
        lengths = [0] * n
        share = np.zeros(n)
        for i, u in enumerate(units):
            grams, start, stop = self._grams(u)
            before = len(found)
            found.extend(filter(_is_known, map(get, grams)))
            lengths[i] = len(found) - before
            if with_stats and stop > start:
                smallest = set(grams[start:stop])
                share[i] = sum(g in vocab for g in smallest) / len(smallest)
        size = max(len(self.vocabulary), 1)
        keys = np.repeat(np.arange(n, dtype=np.int64), lengths) * size + np.asarray(found, dtype=np.int64)
        keys, counts = np.unique(keys, return_counts=True)  # sorted: by row, then column
        rows, cols = np.divmod(keys, size)
        tf = counts.astype(np.float64)
        if sublinear_tf:
            tf = 1.0 + np.log(tf)
        w = tf * self.idf[cols]
        w /= np.sqrt(np.bincount(rows, weights=w * w, minlength=n))[rows]
        return rows, cols, w, share

    def fit(self, docs: list[Counter], min_df: int, max_features: int | None) -> None:
        df = Counter(chain.from_iterable(docs))  # iterating a Counter yields its keys: document frequency
        kept = [(t, c) for t, c in df.items() if c >= min_df]
        if max_features is not None and len(kept) > max_features:
            kept.sort(key=lambda tc: (-tc[1], tc[0]))  # most frequent first, ties alphabetical
            kept = kept[:max_features]
        terms = sorted(t for t, _ in kept)
        self.vocabulary = {t: i for i, t in enumerate(terms)}
        n = len(docs)
        self.set_idf(np.log((1 + n) / (1 + np.array([df[t] for t in terms], dtype=np.float64))) + 1.0)

    def terms(self) -> list[str]:
        return sorted(self.vocabulary, key=self.vocabulary.__getitem__)

    def rows(self, docs: list[Counter], sublinear_tf: bool, offset: int = 0, with_stats: bool = True):
        """Per document (n-gram counts): (column indices + offset, L2-normalised TF-IDF weights, known share)."""
        # Plain Python floats: a message has tens of n-grams, too few for numpy to pay off per row.
        get, idf = self.vocabulary.get, self.idf_list
        is_word, log, sqrt = self.name == "word", math.log, math.sqrt
        order = self._stat_order
        for counts in docs:
            cols = list(map(get, counts))
            # sorted by column, as the vectorised path gives them: the same summation order, the same floats
            pairs = sorted((j, c) for j, c in zip(cols, counts.values()) if j is not None)
            share = 0.0
            if with_stats:
                smallest = [j for g, j in zip(counts, cols) if (g.count(" ") + 1 if is_word else len(g)) == order]
                share = sum(j is not None for j in smallest) / len(smallest) if smallest else 0.0
            if not pairs:
                yield (), (), share
                continue
            if sublinear_tf:
                w = [(1.0 + log(c)) * idf[j] for j, c in pairs]
            else:
                w = [c * idf[j] for j, c in pairs]
            norm = sqrt(sum(x * x for x in w))
            yield [j + offset for j, _ in pairs], [x / norm for x in w], share

    def set_idf(self, idf: np.ndarray) -> None:
        self.idf = np.asarray(idf, dtype=np.float64)
        self.idf_list = self.idf.tolist()
