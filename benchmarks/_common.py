"""Shared pieces of the benchmarks: where the shared datasets are, reading them, the reference systems."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def require_datasets() -> Path:
    if not DATASETS.is_dir():
        sys.exit(f"the shared datasets are not at {DATASETS}: nothing to measure")
    return DATASETS


def read_split(name: str, split: str, label_field: str = "label") -> tuple[list[str], list[str]]:
    with open(DATASETS / name / f"{split}.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [r["text"] for r in rows], [str(r[label_field]) for r in rows]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


_TOKENIZER = None


def jieba_cut(text: str) -> list[str]:
    """jieba's default segmentation with a tokenizer of our own (a module function, so models pickle)."""
    global _TOKENIZER
    if _TOKENIZER is None:
        import jieba

        _TOKENIZER = jieba.Tokenizer()
    return _TOKENIZER.lcut(text)


class JiebaTfidfLogistic:
    """Reference: jieba word 1-2-gram TF-IDF + LogisticRegression(C=10) (the datasets README's baseline)."""

    name = "jieba word TF-IDF + LogisticRegression"

    def fit(self, texts, labels):
        import jieba
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vec = TfidfVectorizer(tokenizer=jieba_cut, token_pattern=None, ngram_range=(1, 2), sublinear_tf=True)
        self.clf = LogisticRegression(C=10, max_iter=1000).fit(self.vec.fit_transform(texts), labels)
        return self

    def predict(self, texts):
        return self.clf.predict(self.vec.transform(texts))

    def predict_one(self, text):
        return self.clf.predict(self.vec.transform([text]))[0]


class FastTextJieba:
    """Reference: fastText on jieba-segmented text, wordNgrams=2, 25 epochs, lr 0.5 (needs the bench extra).

    lr 0.5 reproduces the datasets README's 0.848 on smp2017_ecdt_task1 (fastText's default 0.1 gives 0.786).
    """

    name = "fastText (jieba-segmented)"

    def fit(self, texts, labels):
        import fasttext
        import jieba

        self.tk = jieba.Tokenizer()
        fd, path = tempfile.mkstemp(suffix=".txt")
        # fastText reads its file in order and does not shuffle: a file sorted by label (online_shopping's is)
        # would leave it with the last labels mostly, so the lines are shuffled first (seeded)
        order = np.random.default_rng(0).permutation(len(texts))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for i in order:
                fh.write(f"__label__{labels[i]} {' '.join(self._tokens(texts[i]))}\n")
        try:
            self.model = fasttext.train_supervised(path, wordNgrams=2, epoch=25, lr=0.5, verbose=0, thread=1, seed=0)
        finally:
            os.unlink(path)
        return self

    def _tokens(self, text):
        return [t for t in self.tk.lcut(text.replace("\n", " ")) if not t.isspace()]

    def predict_one(self, text):
        labels, _ = self.model.predict(" ".join(self._tokens(text)))
        return labels[0][len("__label__"):]

    def predict(self, texts):
        return np.array([self.predict_one(t) for t in texts])


def fasttext_available() -> bool:
    try:
        import fasttext  # noqa: F401
    except ImportError:
        return False
    return True


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start
