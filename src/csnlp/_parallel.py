"""Batch work over all cores with joblib: contiguous chunks, one per worker, results in input order."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from joblib import Parallel, delayed, effective_n_jobs

#: Below this many items per worker, starting processes costs more than it saves.
MIN_CHUNK = 2000


def map_chunks(fn: Callable[[list], list], items: Sequence, n_jobs: int | None) -> list:
    """``fn(items)`` computed over contiguous chunks in ``n_jobs`` worker processes, concatenated in order.

    ``fn`` (typically a bound method) is pickled once per chunk, so each worker gets the model once per
    call. With ``n_jobs`` None or 1, or too few items, it runs in this process.
    """
    n = 1 if n_jobs in (None, 1) else effective_n_jobs(n_jobs)
    n = min(n, len(items) // MIN_CHUNK)
    if n <= 1:
        return fn(list(items))
    bounds = [round(i * len(items) / n) for i in range(n + 1)]
    parts = Parallel(n_jobs=n)(delayed(fn)(list(items[a:b])) for a, b in zip(bounds, bounds[1:]))
    out: list = []
    for part in parts:
        out.extend(part)
    return out
