"""Text features: TF-IDF over jieba word n-grams plus character n-grams of the preprocessed text.

Words carry meaning (退货 vs 换货); character n-grams survive typos, homophones, slang and words jieba cuts
badly. Each block is L2-normalised on its own, so neither drowns the other.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from csnlp._validation import MAX_TEXT_LENGTH, check_texts
from csnlp.exceptions import InputError
from csnlp.text import preprocess
from csnlp.tokenizer import JiebaTokenizer

__all__ = ["TextFeatures", "preprocess_texts"]

logger = logging.getLogger(__name__)


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

    def _make_vectorizers(self, vocabularies=None) -> dict[str, TfidfVectorizer]:
        vocabularies = vocabularies or {}
        out = {}
        if self.word_ngram_range is not None:
            out["word"] = TfidfVectorizer(
                tokenizer=JiebaTokenizer(user_words=self.user_words, stop_words=self.stop_words, hmm=self.hmm),
                token_pattern=None,
                lowercase=False,
                ngram_range=tuple(self.word_ngram_range),
                min_df=self.min_df,
                max_features=self.max_features,
                sublinear_tf=self.sublinear_tf,
                vocabulary=vocabularies.get("word"),
                dtype=np.float32,
            )
        if self.char_ngram_range is not None:
            out["char"] = TfidfVectorizer(
                analyzer="char",
                lowercase=False,
                ngram_range=tuple(self.char_ngram_range),
                min_df=self.min_df,
                max_features=self.max_features,
                sublinear_tf=self.sublinear_tf,
                vocabulary=vocabularies.get("char"),
                dtype=np.float32,
            )
        if not out:
            raise ValueError("word_ngram_range and char_ngram_range are both None: switch at least one on")
        return out

    def _prepare(self, X) -> list[str]:
        texts = check_texts(X)
        if self.preprocessed:
            return [t[: self.max_length] for t in texts]
        return preprocess_texts(texts, self.max_length)

    def fit(self, X, y=None) -> TextFeatures:
        """Learn the vocabularies and IDF weights from raw texts."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None) -> sp.csr_matrix:
        """Fit, and return the features of the training texts (one pass over the texts)."""
        texts = self._prepare(X)
        if not texts:
            raise InputError("cannot fit on an empty list of texts: pass at least one text per class")
        self.vectorizers_ = self._make_vectorizers()
        blocks = []
        for name, vec in self.vectorizers_.items():
            try:
                blocks.append(vec.fit_transform(texts))
            except ValueError as exc:  # e.g. every text empty after preprocessing
                raise InputError(f"no {name} features could be built from the training texts: {exc}") from None
        self.n_features_out_ = sum(len(v.vocabulary_) for v in self.vectorizers_.values())
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def transform(self, X) -> sp.csr_matrix:
        """Sparse TF-IDF matrix, one row per text (rows of empty texts are all zero)."""
        check_is_fitted(self, "vectorizers_")
        texts = self._prepare(X)
        blocks = [vec.transform(texts) for vec in self.vectorizers_.values()]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "vectorizers_")
        names = []
        for name, vec in self.vectorizers_.items():
            names.extend(f"{name}:{term}" for term in vec.get_feature_names_out())
        return np.asarray(names, dtype=object)

    # -- persistence: plain vocabularies and IDF arrays, no pickled objects -----------------------------------
    def _to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        check_is_fitted(self, "vectorizers_")
        vocab, arrays = {}, {}
        for name, vec in self.vectorizers_.items():
            terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
            vocab[name] = terms
            arrays[f"{name}_idf"] = np.asarray(vec.idf_, dtype=np.float64)
        return vocab, arrays

    @classmethod
    def _from_state(cls, params: dict, vocab: dict, arrays: dict[str, np.ndarray]) -> TextFeatures:
        self = cls(**params)
        vectorizers = self._make_vectorizers({name: {t: i for i, t in enumerate(terms)} for name, terms in vocab.items()})
        for name, vec in vectorizers.items():
            vec.idf_ = arrays[f"{name}_idf"]
        self.vectorizers_ = vectorizers
        self.n_features_out_ = sum(len(terms) for terms in vocab.values())
        return self
