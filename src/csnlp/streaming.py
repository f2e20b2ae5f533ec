"""Training from files larger than memory: hashed TF-IDF features and a linear model learnt chunk by chunk.

:class:`StreamingIntentClassifier` never holds the training data: pass 1 reads the file once, hashing each
chunk's word and character n-grams (:class:`HashedFeatures`, no vocabulary to grow) into a temporary
directory on disk and counting document frequencies; then ``epochs`` passes over those chunks train a
linear SVM by stochastic gradient descent (``partial_fit``). One text in twenty is held out to fit the
confidence temperature. Memory is bounded by the chunk size and the model (classes x 2^20 weights).

It predicts like :class:`~csnlp.intent.IntentClassifier` (``predict``, ``predict_proba``, ``top_k``,
``predictions``) and routes with :class:`~csnlp.route.Router`.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import normalize as l2_normalize

from csnlp._validation import MAX_TEXT_LENGTH, check_labels, check_texts
from csnlp.exceptions import InputError, NotFittedError
from csnlp.features import TextFeatures, preprocess_texts
from csnlp.intent import Prediction, _fit_temperature

__all__ = ["HashedFeatures", "StreamingIntentClassifier", "train_streaming"]

logger = logging.getLogger(__name__)

_HOLDOUT_EVERY = 20  # one text in twenty calibrates the confidence
_MAX_HOLDOUT = 20000
_DEFAULT_BUCKETS = 64


def _estimate_buckets(path, chunk_size: int) -> int:
    """About (lines in the file / chunk_size), from the file size and the length of its first lines."""
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
    except OSError:
        return _DEFAULT_BUCKETS
    lines = max(1, head.count(b"\n"))
    estimate = size / (len(head) / lines) if head else 0
    return int(min(max(1, -(-estimate // chunk_size)), 4096))


def _append_rows(folder: Path, bucket: int, counts: sp.csr_matrix, codes: np.ndarray) -> None:
    """Append hashed count rows and their label codes to one bucket's raw files."""
    parts = {"len": np.diff(counts.indptr).astype(np.int32), "idx": counts.indices.astype(np.int32),
             "val": counts.data.astype(np.float32), "y": codes.astype(np.int32)}
    for name, values in parts.items():
        with open(folder / f"bucket-{bucket}.{name}", "ab") as fh:
            values.tofile(fh)


def _read_rows(folder: Path, bucket: int, n_features: int) -> tuple[sp.csr_matrix, np.ndarray] | None:
    if not (folder / f"bucket-{bucket}.y").exists():
        return None
    read = {name: np.fromfile(folder / f"bucket-{bucket}.{name}", dtype=dtype)
            for name, dtype in (("len", np.int32), ("idx", np.int32), ("val", np.float32), ("y", np.int32))}
    indptr = np.zeros(len(read["len"]) + 1, dtype=np.int64)
    np.cumsum(read["len"], out=indptr[1:])
    X = sp.csr_matrix((read["val"], read["idx"], indptr), shape=(len(read["len"]), n_features))
    return X, read["y"]


class HashedFeatures:
    """TF-IDF of word + character n-grams hashed into ``n_features`` columns (no vocabulary kept)."""

    def __init__(self, *, n_features: int = 2**20, word_ngram_range=(1, 2), char_ngram_range=(1, 3),
                 user_words=None, hmm: bool = False) -> None:
        self.n_features = n_features
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.user_words = user_words
        self.hmm = hmm
        # the n-gram analysers of the exact features, reused; a block prefix keeps words and chars apart
        self.blocks_ = TextFeatures(word_ngram_range=word_ngram_range, char_ngram_range=char_ngram_range,
                                    user_words=user_words, hmm=hmm)._blocks()
        self._hasher = FeatureHasher(n_features=n_features, input_type="string", alternate_sign=False)
        self.idf_ = np.ones(n_features, dtype=np.float32)

    def counts(self, texts: list[str]) -> sp.csr_matrix:
        """Hashed n-gram counts of preprocessed texts."""
        grams = ([b.name[0] + g for b in self.blocks_ for g in b.analyze(t)] for t in texts)
        return self._hasher.transform(grams).tocsr()

    def weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """1 + log(tf), times IDF, L2-normalised rows."""
        X = counts.astype(np.float32)
        X.data = (1.0 + np.log(X.data)) * self.idf_[X.indices]
        return l2_normalize(X)

    def _transform(self, texts: list[str], return_stats: bool = False):
        X = self.weigh(self.counts(texts))
        # no vocabulary, so no coverage statistics: zeros keep the router's interface
        return (X, np.zeros((len(texts), len(self.blocks_)))) if return_stats else X


class StreamingIntentClassifier(ClassifierMixin, BaseEstimator):
    """An intent classifier trained chunk by chunk, for training files larger than memory.

    Parameters
    ----------
    n_features : int, default 2**20
        Hash space of the n-gram features.
    word_ngram_range, char_ngram_range, user_words, hmm
        As in :class:`~csnlp.intent.IntentClassifier`.
    alpha : float, default 1e-5
        L2 regularisation of the SGD-trained linear SVM.
    epochs : int, default 3
        Passes over the hashed chunks.
    chunk_size : int, default 10000
        Texts per chunk (memory is proportional to it).
    max_length : int, default 2000
    random_state : int, default 0

    Examples
    --------
    >>> clf = StreamingIntentClassifier(n_features=2**12, epochs=5).fit(
    ...     ["我要退货", "怎么退货", "快递到哪了", "物流怎么不动"] * 5, ["return", "return", "shipping", "shipping"] * 5)
    >>> clf.predict(["退货"]).tolist()
    ['return']
    """

    def __init__(self, *, n_features: int = 2**20, word_ngram_range=(1, 2), char_ngram_range=(1, 3),
                 user_words=None, hmm: bool = False, alpha: float = 1e-5, epochs: int = 3,
                 chunk_size: int = 10000, max_length: int = MAX_TEXT_LENGTH, random_state: int | None = 0) -> None:
        self.n_features = n_features
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.user_words = user_words
        self.hmm = hmm
        self.alpha = alpha
        self.epochs = epochs
        self.chunk_size = chunk_size
        self.max_length = max_length
        self.random_state = random_state

    def _check_params(self) -> None:
        for key in ("n_features", "epochs", "chunk_size", "max_length"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{key} must be a positive int, got {value!r}")
        if not (isinstance(self.alpha, (int, float)) and self.alpha > 0):
            raise ValueError(f"alpha must be a positive number, got {self.alpha!r}")

    def _new_features(self) -> HashedFeatures:
        return HashedFeatures(n_features=self.n_features, word_ngram_range=self.word_ngram_range,
                              char_ngram_range=self.char_ngram_range, user_words=self.user_words, hmm=self.hmm)

    def fit(self, X, y) -> StreamingIntentClassifier:
        """Fit on in-memory texts and labels (the same algorithm as :meth:`fit_chunks`)."""
        texts = check_texts(X)
        labels = check_labels(y, len(texts))
        size = self.chunk_size

        def chunks():
            for i in range(0, len(texts), size):
                yield texts[i : i + size], labels[i : i + size]

        return self.fit_chunks(chunks, n_buckets=-(-len(texts) // size))

    def fit_chunks(self, chunks: Callable[[], Iterable[tuple[list[str], list]]],
                   n_buckets: int | None = None) -> StreamingIntentClassifier:
        """Fit from ``chunks()``, an iterator of (texts, labels) pairs, read exactly once.

        Files are often sorted (an export grouped by category): SGD fed in file order would forget the first
        intents by the end. So the hashed rows are dealt at random into ``n_buckets`` bucket files on disk (an
        external shuffle), and every training step reads one bucket: a random sample of the whole file. With
        ``n_buckets`` about (number of texts / chunk_size), as :func:`train_streaming` estimates from the file
        size, a bucket holds about one chunk, so memory stays bounded. Default 64.
        """
        self._check_params()
        features = self._new_features()
        df = np.zeros(self.n_features, dtype=np.int64)
        n_docs, codes = 0, {}
        n_buckets = max(1, int(n_buckets or _DEFAULT_BUCKETS))
        rng = np.random.default_rng(self.random_state)
        hold_counts, hold_codes = [], []
        with tempfile.TemporaryDirectory(prefix="csnlp-streaming-") as tmp:
            for texts, labels in chunks():
                texts = check_texts(texts)
                labels = check_labels(labels, len(texts))
                counts = features.counts(preprocess_texts(texts, self.max_length))
                df += np.bincount(counts.indices, minlength=self.n_features)
                y = np.fromiter((codes.setdefault(label, len(codes)) for label in labels), dtype=np.int32,
                                count=len(labels))
                held = np.arange(n_docs, n_docs + len(texts)) % _HOLDOUT_EVERY == 0
                if sum(len(h) for h in hold_codes) < _MAX_HOLDOUT:
                    hold_counts.append(counts[held])
                    hold_codes.append(y[held])
                counts, y = counts[~held], y[~held]
                bucket = rng.integers(n_buckets, size=len(y))
                for b in np.unique(bucket):
                    _append_rows(Path(tmp), int(b), counts[bucket == b], y[bucket == b])
                n_docs += len(texts)
                logger.info("hashed %d texts", n_docs)
            if len(codes) < 2:
                raise InputError(f"need at least 2 different intents to train, got {sorted(codes)}")
            features.idf_ = (np.log((1 + n_docs) / (1 + df)) + 1.0).astype(np.float32)
            by_code = np.asarray(list(codes))  # code -> label
            self.classes_ = np.array(sorted(codes))
            model = SGDClassifier(loss="hinge", alpha=self.alpha, random_state=self.random_state)
            for epoch in range(self.epochs):
                for b in rng.permutation(n_buckets):
                    bucket_rows = _read_rows(Path(tmp), int(b), self.n_features)
                    if bucket_rows is None:
                        continue
                    X, y = bucket_rows
                    order = rng.permutation(len(y))
                    model.partial_fit(features.weigh(X[order]), by_code[y[order]], classes=self.classes_)
                logger.info("epoch %d/%d done", epoch + 1, self.epochs)
        hold_labels = [by_code[h] for h in hold_codes]
        self.features_ = features
        coef = np.asarray(model.coef_, dtype=np.float32)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:  # binary: one row, positive = classes_[1]
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_, self.intercept_ = coef, intercept
        self.temperature_ = 1.0
        if hold_labels and sum(len(h) for h in hold_labels):
            scores = self._scores(features.weigh(sp.vstack(hold_counts)))
            y_idx = np.searchsorted(self.classes_, np.concatenate(hold_labels))
            self.temperature_ = _fit_temperature(scores, y_idx)
        self.n_texts_ = n_docs
        return self

    # -- prediction: the IntentClassifier interface ------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this StreamingIntentClassifier is not fitted yet: call fit or csnlp.load(path)")

    def _scores(self, X) -> np.ndarray:
        return np.asarray(X @ self.coef_.T, dtype=np.float64) + self.intercept_

    def _proba(self, X) -> np.ndarray:
        z = self._scores(X) / self.temperature_
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        return z / z.sum(axis=1, keepdims=True)

    def _predict_proba_preprocessed(self, texts, return_stats: bool = False, return_features: bool = False):
        self._check_fitted()
        X, stats = self.features_._transform([t[: self.max_length] for t in texts], return_stats=True)
        proba = self._proba(X) if texts else np.zeros((0, len(self.classes_)))
        out = (proba,) + ((stats,) if return_stats else ()) + ((X,) if return_features else ())
        return out if len(out) > 1 else proba

    def predict_proba(self, X) -> np.ndarray:
        self._check_fitted()
        return self._predict_proba_preprocessed(preprocess_texts(check_texts(X), self.max_length))

    def predict_proba_with_stats(self, X):
        self._check_fitted()
        return self._predict_proba_preprocessed(preprocess_texts(check_texts(X), self.max_length), return_stats=True)

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)] if len(proba) else np.array([], dtype=self.classes_.dtype)

    def top_k(self, X, k: int = 3) -> list[list[tuple]]:
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        proba = self.predict_proba(X)
        order = np.argsort(-proba, axis=1, kind="stable")[:, : min(k, len(self.classes_))]
        return [[(self.classes_[j].item(), float(row[j])) for j in idx] for row, idx in zip(proba, order)]

    def predictions(self, X, k: int = 3) -> list[Prediction]:
        texts = check_texts(X)
        tops = self.top_k(texts, k) if texts else []
        return [Prediction(t[0][0], t[0][1], tuple(t), len(x) > self.max_length) for x, t in zip(texts, tops)]

    def predict_one(self, text: str, k: int = 3) -> Prediction:
        if not isinstance(text, str):
            raise InputError(f"text must be str, got {type(text).__name__}")
        return self.predictions([text], k)[0]

    # -- persistence -------------------------------------------------------------------------------------------
    def _to_state(self):
        self._check_fitted()
        state = {"classes": self.classes_.tolist(), "temperature": self.temperature_, "n_texts": self.n_texts_}
        return state, {"coef": self.coef_, "intercept": self.intercept_, "idf": self.features_.idf_}

    @classmethod
    def _from_state(cls, params: dict, state: dict, arrays: dict) -> StreamingIntentClassifier:
        self = cls(**params)
        self.features_ = self._new_features()
        self.features_.idf_ = np.asarray(arrays["idf"], dtype=np.float32)
        self.classes_ = np.asarray(state["classes"])
        self.temperature_ = float(state["temperature"])
        self.n_texts_ = int(state["n_texts"])
        self.coef_ = np.asarray(arrays["coef"], dtype=np.float32)
        self.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        return self


def train_streaming(path, *, config: dict | None = None, seed: int | None = None, chunk_size: int | None = None,
                    skip_bad_lines: bool = False, **read_options) -> StreamingIntentClassifier:
    """Train a :class:`StreamingIntentClassifier` from a labelled file, reading it once in chunks.

    Bad lines raise :class:`~csnlp.exceptions.DataFormatError` (file and line), or with
    ``skip_bad_lines`` are counted into ``bundle_metadata_["training"]["bad_lines_skipped"]``.
    """
    import hashlib
    import json

    from csnlp.datasets import iter_labelled

    params = dict(config or {})
    if seed is not None:
        params["random_state"] = seed
    if chunk_size is not None:
        params["chunk_size"] = chunk_size
    unknown = sorted(set(params) - set(StreamingIntentClassifier().get_params()))
    if unknown:
        raise InputError(f"unknown streaming parameter(s) {unknown}: allowed are "
                         f"{sorted(StreamingIntentClassifier().get_params())}")
    clf = StreamingIntentClassifier(**params)
    try:
        clf._check_params()
    except ValueError as exc:
        raise InputError(f"bad parameter in the config: {exc}") from None
    digest = hashlib.sha256()
    skipped = [0]

    def chunks() -> Iterator[tuple[list[str], list]]:
        texts, labels = [], []
        for _, item in iter_labelled(path, multi_label=False, **read_options):
            if not isinstance(item, tuple):
                if not skip_bad_lines:
                    raise item
                skipped[0] += 1
                continue
            texts.append(item[0])
            labels.append(item[1])
            digest.update(json.dumps(list(item), ensure_ascii=False).encode("utf-8") + b"\n")
            if len(texts) >= clf.chunk_size:
                yield texts, labels
                texts, labels = [], []
        if texts:
            yield texts, labels

    clf.fit_chunks(chunks, n_buckets=_estimate_buckets(path, clf.chunk_size))
    clf.bundle_metadata_ = {
        "training_data_sha256": digest.hexdigest(),
        "training": {"n_texts": clf.n_texts_, "source": Path(path).name, "streaming": True,
                     "bad_lines_skipped": skipped[0]},
    }
    return clf
