"""IntentClassifier: raw Chinese texts in, intents with calibrated confidence out.

Features are TF-IDF word n-grams (jieba) plus character n-grams (:class:`~csnlp.features.TextFeatures`). On
top sit linear models: a linear SVM, and on small and medium data (up to ``ensemble_max_samples`` texts) also
a multinomial logistic regression, whose calibrated probabilities are averaged. Confidence is calibrated by
temperature scaling fitted on out-of-fold scores, so that 0.9 means right about nine times in ten.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, train_test_split
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from csnlp._validation import MAX_TEXT_LENGTH, check_labels, check_texts
from csnlp.exceptions import InputError, NotFittedError
from csnlp.features import FEATURE_PARAMS, TextFeatures, preprocess_texts

__all__ = ["IntentClassifier", "Prediction"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """One text's result from :meth:`IntentClassifier.predict_one`."""

    intent: str
    confidence: float
    top: tuple[tuple[str, float], ...]
    truncated: bool = False

    def to_dict(self) -> dict:
        return {
            "intent": self.intent,
            "confidence": self.confidence,
            "top": [{"intent": label, "score": score} for label, score in self.top],
            "truncated": self.truncated,
        }


def _fit_temperature(scores: np.ndarray, y_idx: np.ndarray) -> float:
    """The temperature T minimising the log-loss of softmax(scores / T) on held-out scores."""

    def nll(log_t: float) -> float:
        logp = log_softmax(scores / np.exp(log_t), axis=1)
        return float(-logp[np.arange(len(y_idx)), y_idx].mean())

    res = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(1e3)), method="bounded")
    return float(np.exp(res.x))


class IntentClassifier(ClassifierMixin, BaseEstimator):
    """Intent classifier over raw Chinese customer messages.

    Parameters
    ----------
    word_ngram_range, char_ngram_range, min_df, max_features, sublinear_tf, user_words, stop_words, hmm
        Feature settings, see :class:`~csnlp.features.TextFeatures`. ``min_df=None`` (default) keeps every
        n-gram on small data and drops those seen in only one text on large data (see below).
    C : float, default 0.5
        Inverse regularisation strength of the linear SVM.
    C_logistic : float, default 20.0
        Inverse regularisation strength of the logistic regression of the ensemble.
    ensemble_max_samples : int, default 20000
        Up to this many training texts, the logistic regression joins the SVM and calibration uses
        ``calibration_folds`` folds. Beyond it (large data: the slower half adds little there) the SVM works
        alone, calibration uses one 80/20 split, and ``min_df=None`` means 2, which keeps the model small.
    class_weight : "balanced", dict or None, default "balanced"
        Weights of the classes in the loss; "balanced" keeps rare intents from being swallowed.
    calibration_folds : int, default 3
        Folds of the out-of-fold scores that the confidence temperature is fitted on (0: no calibration).
    max_length : int, default 2000
        Messages longer than this are cut (``Prediction.truncated`` says so).
    random_state : int or None, default 0
        Seed of the fold split and of the solvers.
    n_jobs : int or None, default None
        Worker processes for prediction on large batches (-1: all cores); results are identical.

    Attributes
    ----------
    classes_ : ndarray of str
    features_ : TextFeatures
    coefs_ : list of ndarray (n_classes, n_features)
    intercepts_ : list of ndarray (n_classes,)
    temperatures_ : list of float
    weights_ : list of float
        Ensemble weight of each model, fitted on out-of-fold log-loss.
    oof_proba_ : ndarray (len(oof_index_), n_classes)
        Out-of-fold calibrated probabilities of the training texts at ``oof_index_`` (all of them on small
        data; after ``fit`` only, not saved). Used to tune routing thresholds without extra fits.

    Examples
    --------
    >>> clf = IntentClassifier(calibration_folds=0).fit(
    ...     ["我要退货", "怎么退货", "快递到哪了", "物流怎么不动"], ["return", "return", "shipping", "shipping"])
    >>> clf.predict(["这个能退货吗"]).tolist()
    ['return']
    """

    def __init__(
        self,
        *,
        word_ngram_range: tuple[int, int] | None = (1, 2),
        char_ngram_range: tuple[int, int] | None = (1, 3),
        min_df: int | None = None,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        user_words=None,
        stop_words=None,
        hmm: bool = False,
        C: float = 0.5,
        C_logistic: float = 20.0,
        ensemble_max_samples: int = 20000,
        class_weight="balanced",
        calibration_folds: int = 3,
        max_length: int = MAX_TEXT_LENGTH,
        random_state: int | None = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.user_words = user_words
        self.stop_words = stop_words
        self.hmm = hmm
        self.C = C
        self.C_logistic = C_logistic
        self.ensemble_max_samples = ensemble_max_samples
        self.class_weight = class_weight
        self.calibration_folds = calibration_folds
        self.max_length = max_length
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting ---------------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        if not (isinstance(self.C_logistic, (int, float)) and self.C_logistic > 0):
            raise ValueError(f"C_logistic must be a positive number, got {self.C_logistic!r}")
        if not (isinstance(self.calibration_folds, int) and (self.calibration_folds == 0 or self.calibration_folds >= 2)):
            raise ValueError(f"calibration_folds must be 0 or an int >= 2, got {self.calibration_folds!r}")
        if not (isinstance(self.max_length, int) and self.max_length > 0):
            raise ValueError(f"max_length must be a positive int, got {self.max_length!r}")

    def _new_models(self, n_samples: int) -> list:
        models = [LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.random_state)]
        if n_samples <= self.ensemble_max_samples:
            models.append(
                # saga with a loose tolerance: as accurate here as lbfgs to convergence, several times faster
                LogisticRegression(
                    C=self.C_logistic,
                    class_weight=self.class_weight,
                    solver="saga",
                    tol=1e-3,
                    max_iter=1000,
                    random_state=self.random_state,
                )
            )
        return models

    @staticmethod
    def _scores(model, X, class_index: np.ndarray, n_classes: int) -> np.ndarray:
        """Decision scores of ``model`` as an (n, n_classes) array in the order of ``class_index``."""
        raw = model.decision_function(X)
        if raw.ndim == 1:  # binary problem: one column, positive = model.classes_[1]
            raw = np.column_stack([-raw / 2, raw / 2])
        out = np.full((X.shape[0], n_classes), -1e3, dtype=np.float64)  # classes missing from a fold
        out[:, class_index] = raw
        return out

    def fit(self, X, y) -> IntentClassifier:
        """Fit on raw texts ``X`` and their intent labels ``y``."""
        self._check_params()
        texts = check_texts(X)
        labels = check_labels(y, len(texts))
        if not texts:
            raise InputError("cannot fit on an empty list of texts")
        classes, y_idx = np.unique(np.asarray(labels), return_inverse=True)
        if len(classes) < 2:
            raise InputError(f"need at least 2 different intents to train, got only {list(classes)}")
        pre = preprocess_texts(texts, self.max_length)
        feature_params = {k: getattr(self, k) for k in FEATURE_PARAMS}
        if feature_params["min_df"] is None:
            feature_params["min_df"] = 1 if len(texts) <= self.ensemble_max_samples else 2
        features = TextFeatures(**feature_params, preprocessed=True)
        A = features.fit_transform(pre)
        models = self._new_models(len(texts))
        y_arr = classes[y_idx]
        for model in models:
            model.fit(A, y_arr)
        self.classes_ = classes
        self.features_ = features
        self.coefs_ = []
        self.intercepts_ = []
        for model in models:
            scores_index = np.searchsorted(classes, model.classes_)
            coef, intercept = np.asarray(model.coef_), np.asarray(model.intercept_)
            if coef.shape[0] == 1:  # binary: expand to one row per class, matching _scores
                coef = np.vstack([-coef / 2, coef / 2])
                intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
            full_coef = np.zeros((len(classes), coef.shape[1]))
            full_int = np.full(len(classes), -1e3)
            full_coef[scores_index], full_int[scores_index] = coef, intercept
            self.coefs_.append(full_coef.astype(np.float32))
            self.intercepts_.append(full_int)
        self.temperatures_, self.weights_ = self._calibrate(A, y_idx, classes, len(texts))
        return self

    def _calibrate(self, A, y_idx: np.ndarray, classes: np.ndarray, n_samples: int) -> tuple[list[float], list[float]]:
        """Temperatures per model and ensemble weights, both fitted on out-of-fold scores (log-loss)."""
        n_classes = len(classes)
        n_models = len(self.coefs_)
        folds = min(self.calibration_folds, n_samples)
        if folds < 2:
            return [1.0] * n_models, [1.0 / n_models] * n_models
        if n_samples > self.ensemble_max_samples:
            # large data: one 80/20 split holds plenty of held-out scores and costs one extra fit, not K
            rest, held = train_test_split(np.arange(n_samples), test_size=0.2, random_state=self.random_state)
            splits = [(rest, held)]
        else:
            splits = KFold(n_splits=folds, shuffle=True, random_state=self.random_state).split(A)
        oof = [np.zeros((n_samples, n_classes)) for _ in range(n_models)]
        scored = np.zeros(n_samples, dtype=bool)
        for train, test in splits:
            if len(np.unique(y_idx[train])) < 2:
                continue
            scored[test] = True
            for m, model in enumerate(self._new_models(n_samples)):
                # the real labels, not their indices: a class_weight dict is keyed by them
                model.fit(A[train], classes[y_idx[train]])
                oof[m][test] = self._scores(model, A[test], np.searchsorted(classes, model.classes_), n_classes)
        if not scored.any():
            return [1.0] * n_models, [1.0 / n_models] * n_models
        self.oof_index_ = np.flatnonzero(scored)
        oof = [scores[scored] for scores in oof]
        y_idx = y_idx[scored]
        n_samples = int(scored.sum())
        temperatures = [_fit_temperature(scores, y_idx) for scores in oof]
        probas = [softmax(scores / t, axis=1) for scores, t in zip(oof, temperatures)]
        weights = [1.0]
        if n_models == 2:
            rows = np.arange(n_samples)

            def nll(w: float) -> float:
                mix = w * probas[0] + (1 - w) * probas[1]
                return float(-np.log(np.clip(mix[rows, y_idx], 1e-12, None)).mean())

            w = min(np.linspace(0, 1, 21), key=nll)
            weights = [float(w), float(1 - w)]
        self.oof_proba_ = sum(w * p for w, p in zip(weights, probas))
        return temperatures, weights

    # -- prediction ------------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, "coefs_")
        except Exception:
            raise NotFittedError(
                "this IntentClassifier is not fitted yet: call fit(texts, labels) or csnlp.load(path) first"
            ) from None

    def _features(self, X) -> sp.csr_matrix:
        return self.features_._transform(preprocess_texts(check_texts(X), self.max_length))

    def _scorers(self) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
        # (features x classes) C-contiguous copies: sparse @ dense would otherwise copy coef.T on every call
        cached = self.__dict__.get("_scorers_cache")
        if cached is None or cached[0] is not self.coefs_:
            total = sum(self.weights_)
            scorers = [
                (np.ascontiguousarray(coef.T), np.asarray(b, dtype=np.float64), float(t), float(w) / total)
                for coef, b, t, w in zip(self.coefs_, self.intercepts_, self.temperatures_, self.weights_)
            ]
            cached = (self.coefs_, scorers)
            self.__dict__["_scorers_cache"] = cached
        return cached[1]

    def _proba_from_features(self, A) -> np.ndarray:
        proba = np.zeros((A.shape[0], len(self.classes_)))
        for coef_t, intercept, temp, weight in self._scorers():
            z = (np.asarray(A @ coef_t, dtype=np.float64) + intercept) / temp
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            proba += weight * z
        return proba

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probability of each class (columns in the order of ``classes_``); rows sum to 1."""
        self._check_fitted()
        texts = check_texts(X)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        if self.n_jobs not in (None, 1):
            from csnlp._parallel import map_chunks

            return np.asarray(map_chunks(self._proba_rows, texts, self.n_jobs))
        return self._proba_from_features(self._features(texts))

    def _proba_rows(self, texts: list[str]) -> list[np.ndarray]:
        return list(self._proba_from_features(self._features(texts)))

    def _predict_proba_preprocessed(self, texts: list[str], return_stats: bool = False, return_features: bool = False):
        """predict_proba for texts already passed through csnlp.text.preprocess (used by the router).

        With ``return_stats`` also the vocabulary-coverage statistics of
        :meth:`csnlp.features.TextFeatures.transform`; with ``return_features`` also the feature matrix.
        """
        self._check_fitted()
        A, stats = self.features_._transform([t[: self.max_length] for t in texts], return_stats=True)
        proba = self._proba_from_features(A) if texts else np.zeros((0, len(self.classes_)))
        out = (proba,) + ((stats,) if return_stats else ()) + ((A,) if return_features else ())
        return out if len(out) > 1 else proba

    def predict_proba_with_stats(self, X) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_proba` plus, per text, the share of its words and character bigrams the model knows."""
        self._check_fitted()
        return self._predict_proba_preprocessed(preprocess_texts(check_texts(X), self.max_length), return_stats=True)

    def decision_function(self, X) -> np.ndarray:
        """Log of :meth:`predict_proba`: a monotone confidence score per class."""
        self._check_fitted()
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable intent of each text."""
        self._check_fitted()
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)] if len(proba) else np.array([], dtype=self.classes_.dtype)

    def top_k(self, X, k: int = 3) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable intents of each text, best first, as (intent, probability) pairs."""
        self._check_fitted()
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        proba = self.predict_proba(X)
        k = min(k, len(self.classes_))
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return [[(self.classes_[j].item(), float(row[j])) for j in idx] for row, idx in zip(proba, order)]

    def predict_one(self, text: str, k: int = 3) -> Prediction:
        """Intent, confidence and top-k of a single message."""
        self._check_fitted()
        if not isinstance(text, str):
            raise InputError(f"text must be str, got {type(text).__name__}")
        top = self.top_k([text], k)[0]
        return Prediction(top[0][0], top[0][1], tuple(top), len(text) > self.max_length)

    def predictions(self, X, k: int = 3) -> list[Prediction]:
        """:meth:`predict_one` for many texts in one batch."""
        texts = check_texts(X)
        tops = self.top_k(texts, k) if texts else []
        return [Prediction(t[0][0], t[0][1], tuple(t), len(x) > self.max_length) for x, t in zip(texts, tops)]

    # -- persistence (see csnlp.persistence): JSON-safe parameters and state, plain numeric arrays ------------
    def _to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        self._check_fitted()
        vocab, arrays = self.features_._to_state()
        state = {
            "classes": self.classes_.tolist(),
            "temperatures": self.temperatures_,
            "weights": self.weights_,
            "vocabulary": vocab,
        }
        for i, (coef, intercept) in enumerate(zip(self.coefs_, self.intercepts_)):
            arrays[f"coef_{i}"] = coef
            arrays[f"intercept_{i}"] = intercept
        return state, arrays

    @classmethod
    def _from_state(cls, params: dict, state: dict, arrays: dict[str, np.ndarray]) -> IntentClassifier:
        self = cls(**params)
        self.features_ = TextFeatures._from_state(
            {k: params[k] for k in FEATURE_PARAMS} | {"preprocessed": True}, state["vocabulary"], arrays
        )
        self.classes_ = np.asarray(state["classes"])
        self.temperatures_ = [float(t) for t in state["temperatures"]]
        self.weights_ = [float(w) for w in state["weights"]]
        n = len(self.temperatures_)
        self.coefs_ = [arrays[f"coef_{i}"] for i in range(n)]
        self.intercepts_ = [arrays[f"intercept_{i}"] for i in range(n)]
        return self
