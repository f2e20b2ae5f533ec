"""Model bundles: save and load csnlp models without pickle.

A bundle is a directory (or, when the path ends in ``.zip``, one zip file) holding:

- ``manifest.json``: format name and version, the kind of model, library versions, labels, parameters,
  the sha256 fingerprint of the training data, metrics when known, creation time, and the sha256 of every
  other member;
- ``model.json``: the model's state as JSON (classes, vocabularies, thresholds, policy, knowledge base);
- ``arrays.npz``: numeric arrays only, read with ``allow_pickle=False``.

Loading verifies every checksum before reading anything else, refuses a newer format with
:class:`~csnlp.exceptions.IncompatibleModelError`, and warns when the bundle was written by other library
versions. Nothing in a bundle is ever executed: a bundle from a stranger cannot run code.

Writes are atomic: members are written to a temporary sibling and renamed into place, so a crash leaves
either the old bundle or the new one. Recovery restores only a sibling whose checksums verify, and removes what
killed saves left behind (see :func:`_recover`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import logging
import os
import re
import shutil
import time
import uuid
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from csnlp.exceptions import BundleExistsError, CsnlpError, IncompatibleModelError, IntegrityError, InputError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, see _abandoned
    fcntl = None

__all__ = ["save", "load", "read_manifest", "FORMAT_VERSION", "register_kind"]

logger = logging.getLogger(__name__)

FORMAT_NAME = "csnlp-bundle"
FORMAT_VERSION = 1
_MEMBERS = ("model.json", "arrays.npz")
# Without advisory locks a sibling counts as a killed save's leftover only at this age: far more than a save takes.
_STALE_AFTER_S = 3600.0

_KINDS: dict[str, type] = {}


def register_kind(kind: str, cls: type) -> None:
    """Make a model class saveable: it must offer ``_to_state()`` and ``_from_state(params, state, arrays)``."""
    _KINDS[kind] = cls


def _kind_of(model) -> str:
    _ensure_registry()
    for kind, cls in _KINDS.items():
        if type(model) is cls:
            return kind
    raise InputError(f"cannot save a {type(model).__name__}: expected one of {sorted(c.__name__ for c in _KINDS.values())}")


def _ensure_registry() -> None:
    # Imported lazily: the model modules sit above persistence in the dependency order of the package.
    if _KINDS:
        return
    from csnlp import bundle_kinds  # noqa: F401  (registers the built-in kinds)


def component_state(model) -> tuple[dict, dict[str, np.ndarray]]:
    """State of a model nested in another (a router's classifier and tagger)."""
    kind = _kind_of(model)
    state, arrays = model._to_state()
    params = json.loads(_dumps(model.get_params(deep=False))) if hasattr(model, "get_params") else {}
    return {"kind": kind, "params": params, "state": state}, arrays


def component_from_state(spec: dict, arrays: dict[str, np.ndarray]):
    _ensure_registry()
    kind = spec.get("kind")
    if kind not in _KINDS:
        raise IncompatibleModelError(f"unknown model kind {kind!r} inside the bundle; upgrade csnlp")
    return _KINDS[kind]._from_state(spec.get("params") or {}, spec["state"], arrays)


def _versions() -> dict[str, str]:
    import jieba
    import sklearn

    from csnlp import __version__

    return {"csnlp": __version__, "scikit-learn": sklearn.__version__, "jieba": jieba.__version__, "numpy": np.__version__}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=_json_default).encode("utf-8")


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    for name, arr in arrays.items():
        if np.asarray(arr).dtype == object:
            raise TypeError(f"array {name!r} has dtype object, which cannot be stored without pickle")
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def _labels_of(model) -> list[str]:
    labels = getattr(model, "classes_", None)
    return [str(c) for c in labels] if labels is not None else []


def bundle_bytes(model, *, metadata: dict | None = None) -> dict[str, bytes]:
    """The members of a bundle for ``model``, as bytes (used by :func:`save`)."""
    kind = _kind_of(model)
    state, arrays = model._to_state()
    params = model.get_params(deep=False) if hasattr(model, "get_params") else {}
    members = {"model.json": _dumps({"state": state}), "arrays.npz": _npz_bytes(arrays)}
    metadata = dict(metadata or {})
    metadata.update(getattr(model, "bundle_metadata_", None) or {})
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "versions": _versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "labels": _labels_of(model),
        "params": json.loads(_dumps(params)),
        "training_data_sha256": metadata.pop("training_data_sha256", None),
        "metrics": metadata.pop("metrics", None),
        "metadata": json.loads(_dumps(metadata)),
        "files": {name: _sha256(data) for name, data in members.items()},
    }
    members["manifest.json"] = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True,
                                          default=_json_default).encode("utf-8")
    return members


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _siblings(path: Path, tag: str) -> list[Path]:
    """``path``'s ``.<name>.<tag>-<token>`` siblings (exactly the names save() gives them), newest first."""
    pattern = re.compile(re.escape(f".{path.name}.{tag}-") + "[0-9a-f]{8}")
    found = []
    try:
        for entry in path.parent.iterdir():
            if pattern.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    found.append((entry.lstat().st_mtime, entry))
    except OSError:
        return []
    return [entry for _, entry in sorted(found, key=lambda pair: pair[0], reverse=True)]


def _claimed_sibling(path: Path, tag: str, create) -> tuple[Path, int | None]:
    """Create a new ``.<name>.<tag>-<token>`` sibling with ``create(entry)`` (an open fd, or None) and lock it.

    The lock tells a concurrent clean-up (:func:`_abandoned`) that a running save owns the entry; the kernel drops
    it when the process dies, which is what makes a killed save's leftovers recognisable. Close the fd to release.
    """
    for _ in range(3):
        entry = path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}")
        fd = create(entry)
        if fd is None or fcntl is None:
            return entry, fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            return entry, fd  # no locks on this file system: clean-ups then never take the entry either
        try:
            # a clean-up that listed the entry before it was locked may have removed it meanwhile
            if os.path.samestat(os.fstat(fd), os.stat(entry)):
                return entry, fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise OSError(f"could not create a temporary sibling of {path}: something keeps removing it")


def _make_dir(entry: Path) -> int | None:
    entry.mkdir()
    return os.open(entry, os.O_RDONLY) if fcntl is not None else None


def _make_file(entry: Path) -> int:
    return os.open(entry, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)


@contextlib.contextmanager
def _abandoned(entry: Path):
    """True (and ``entry`` held) when no running save owns ``entry``: a killed save's leftover, safe to take.

    With advisory locks a running save holds one on its entries (see :func:`_claimed_sibling`); without them
    (Windows) only entries older than ``_STALE_AFTER_S`` count as abandoned.
    """
    if fcntl is None:
        try:
            age = time.time() - entry.lstat().st_mtime
        except OSError:
            age = 0.0
        yield age > _STALE_AFTER_S
        return
    try:
        fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # gone, a symlink, or not ours to read: leave it
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by a running save (or no locks on this file system)
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            entry.unlink()


def _remove_leftovers(path: Path, tags: tuple[str, ...]) -> None:
    for tag in tags:
        for leftover in _siblings(path, tag):
            with _abandoned(leftover) as abandoned:
                if abandoned:
                    _remove(leftover)
                    logger.info("removed %s, left behind by an interrupted save", leftover)


def _is_complete(candidate: Path) -> bool:
    """Whether a directory holds a bundle whose checksums verify."""
    try:
        members = _read_dir_members(candidate)
        _verify(candidate, _parse_manifest(candidate, members["manifest.json"]), members)
    except IncompatibleModelError:
        return True  # complete, only newer than this csnlp: load() says so
    except (IntegrityError, OSError):
        return False
    return True


def _recover(path: Path) -> bool:
    """Finish or roll back a directory save that was killed, and remove what killed saves left behind.

    A save writes ``.<name>.new-<token>``, then renames the bundle to ``.<name>.old-<token>`` and the new one to
    ``<name>``. With ``<name>`` missing, the newest ``.new-*`` sibling whose checksums verify is put in place,
    else the newest verified ``.old-*`` (a save killed while writing leaves an incomplete ``.new-*``). Then
    every ``.new-*``, ``.old-*`` and ``.tmp-*`` sibling that no running save owns is removed: only names of
    exactly that form are touched, and one that a running save holds never (see :func:`_abandoned`).

    Returns whether a save of ``path`` is running while ``path`` is missing (between its two renames).
    """
    running = set()
    if not path.exists():
        for candidate in _siblings(path, "new"):
            with _abandoned(candidate) as abandoned:
                if not abandoned:
                    running.add(candidate.name.rsplit("-", 1)[1])
                elif _is_complete(candidate):
                    os.replace(candidate, path)
                    logger.warning("completed an interrupted save of %s", path)
                    break
        else:
            for old in _siblings(path, "old"):
                # the old bundle of a save that is still running is that save's to move back or delete
                if old.name.rsplit("-", 1)[1] not in running and _is_complete(old):
                    os.replace(old, path)
                    logger.warning("restored %s after an interrupted save", path)
                    break
    if path.exists():
        _remove_leftovers(path, ("new", "old", "tmp"))
        return False
    return bool(running)


def save(model, path: str | os.PathLike, *, overwrite: bool = False, metadata: dict | None = None) -> Path:
    """Save a fitted model as a bundle at ``path`` (a directory, or one zip file when it ends in ``.zip``).

    Parameters
    ----------
    model : IntentClassifier, FeedbackTagger, Router or DefaultModel
        A fitted csnlp model.
    path : str or path-like
        Where to write. Its parent directory is created if needed.
    overwrite : bool, default False
        Replace an existing bundle. Without it an existing path raises :class:`BundleExistsError`.
    metadata : dict, optional
        Extra JSON-safe facts for the manifest; keys ``training_data_sha256`` and ``metrics`` are lifted to
        the manifest's top level.

    Returns
    -------
    Path
        The bundle's path.
    """
    path = Path(path)
    members = bundle_bytes(model, metadata=metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".zip":
        if path.exists() and not overwrite:
            raise BundleExistsError(f"{path} already exists: pass overwrite=True (CLI: --overwrite) to replace it")
        _remove_leftovers(path, ("tmp",))
        tmp, fd = _claimed_sibling(path, "tmp", _make_file)
        try:
            with open(fd, "wb") as fh:  # closing it releases the lock, after the rename
                with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
                    for name, data in members.items():
                        zf.writestr(name, data)
                fh.flush()
                os.fsync(fh.fileno())
                os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        _fsync_dir(path.parent)
        return path

    _recover(path)
    if path.exists() and not overwrite:
        raise BundleExistsError(f"{path} already exists: pass overwrite=True (CLI: --overwrite) to replace it")
    if path.exists() and not path.is_dir():
        raise BundleExistsError(f"{path} exists and is not a bundle directory: choose another path")
    new, fd = _claimed_sibling(path, "new", _make_dir)
    try:
        # manifest last: a directory without one is never mistaken for a bundle
        for name in (*_MEMBERS, "manifest.json"):
            _write_file(new / name, members[name])
        _fsync_dir(new)
        if path.exists():
            old = path.with_name(f".{path.name}.old-{new.name.rsplit('-', 1)[1]}")
            os.replace(path, old)
            os.replace(new, path)
            _fsync_dir(path.parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(new, path)
            _fsync_dir(path.parent)
    finally:
        if new.exists():
            shutil.rmtree(new, ignore_errors=True)
        if fd is not None:
            os.close(fd)
    logger.info("saved %s bundle to %s", type(model).__name__, path)
    return path


def _read_dir_members(path: Path) -> dict[str, bytes]:
    members = {}
    for name in ("manifest.json", *_MEMBERS):
        member = path / name
        if not member.is_file():
            raise IntegrityError(f"{path} is not a complete csnlp bundle: {name} is missing")
        members[name] = member.read_bytes()
    return members


# What zipfile raises on a damaged container besides BadZipFile: an unknown compression method
# (NotImplementedError), an encryption flag (RuntimeError), corrupt deflate data (zlib.error), a bad header
# (ValueError, EOFError, OSError).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError,
               ValueError, zlib.error)


def _read_members(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        _recover(path)
        return _read_dir_members(path)
    if not path.exists():
        saving = _recover(path)
        if path.is_dir():
            return _read_dir_members(path)
        if saving:
            raise FileNotFoundError(f"no model bundle at {path} yet: a save of it is still running, retry in a moment")
        raise FileNotFoundError(f"no model bundle at {path}: check the path, or train one with 'csnlp train'")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            missing = [n for n in ("manifest.json", *_MEMBERS) if n not in names]
            if missing:
                raise IntegrityError(f"{path} is not a complete csnlp bundle: {', '.join(missing)} missing")
            return {n: zf.read(n) for n in ("manifest.json", *_MEMBERS)}
    except IntegrityError:
        raise
    except _ZIP_ERRORS as exc:
        raise IntegrityError(
            f"{path} is not a readable csnlp bundle (damaged, truncated or not a zip): {exc}; re-save or re-train "
            "the model"
        ) from None


def _parse_manifest(path: Path, raw: bytes) -> dict:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise IntegrityError(f"{path}: manifest.json is not valid JSON ({exc}); the bundle is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise IntegrityError(f"{path}: manifest.json is not a csnlp bundle manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise IntegrityError(f"{path}: manifest.json has no integer format_version")
    if version > FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{path} has bundle format {version}, newer than the {FORMAT_VERSION} this csnlp reads: upgrade csnlp"
        )
    return manifest


def read_manifest(path: str | os.PathLike) -> dict:
    """The verified manifest of the bundle at ``path`` (checksums checked, nothing else loaded)."""
    path = Path(path)
    members = _read_members(path)
    manifest = _parse_manifest(path, members["manifest.json"])
    _verify(path, manifest, members)
    return manifest


def _verify(path: Path, manifest: dict, members: dict[str, bytes]) -> None:
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != set(_MEMBERS):
        raise IntegrityError(f"{path}: manifest.json does not list the checksums of {', '.join(_MEMBERS)}")
    for name in _MEMBERS:
        if _sha256(members[name]) != files[name]:
            raise IntegrityError(
                f"{path}: {name} does not match its sha256 in manifest.json (truncated or edited): "
                "re-save or re-train the model"
            )


def load(path: str | os.PathLike):
    """Load a bundle written by :func:`save`, verifying every checksum first.

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    IntegrityError
        A member is missing, truncated or edited, the zip container is damaged, or the model data does not fit
        the model (wrong shapes, missing keys, invalid parameters), even with matching checksums.
    IncompatibleModelError
        The bundle format is newer than this csnlp reads, or the model kind is unknown.
    """
    path = Path(path)
    members = _read_members(path)
    manifest = _parse_manifest(path, members["manifest.json"])
    _verify(path, manifest, members)
    theirs = manifest.get("versions") or {}
    if not isinstance(theirs, dict):
        raise IntegrityError(f"{path}: manifest.json 'versions' must be an object of library versions, got "
                             f"{type(theirs).__name__}: the bundle is damaged or was edited")
    mine = _versions()
    differ = {k: v for k, v in theirs.items() if mine.get(k) != v}
    if differ:
        warnings.warn(
            f"{path} was written with {', '.join(f'{k} {v}' for k, v in sorted(differ.items()))}; this is "
            f"{', '.join(f'{k} {mine.get(k)}' for k in sorted(differ))}: predictions may differ slightly, "
            "re-train to be sure",
            UserWarning,
            stacklevel=2,
        )
    _ensure_registry()
    kind = manifest.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise IncompatibleModelError(f"{path}: unknown model kind {kind!r}; upgrade csnlp")
    params = manifest.get("params", {})
    if not isinstance(params, dict):
        raise IntegrityError(f"{path}: manifest.json 'params' must be an object, got {type(params).__name__}: "
                             "the bundle is damaged or was edited; re-save or re-train the model")
    state, arrays = _read_model_data(path, members)
    # The checksums prove only that the files are as written, and anyone can write a bundle: whatever does not
    # fit the model is refused here, not left to fail (or to predict nonsense) later.
    try:
        model = _KINDS[kind]._from_state(params, state, arrays)
        _check_rebuilt(model)
    except (IntegrityError, IncompatibleModelError):
        raise
    except (CsnlpError, KeyError, IndexError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        raise IntegrityError(
            f"{path}: the model data does not fit its kind {kind!r} ({type(exc).__name__}: {exc}): the bundle is "
            "damaged or was edited; re-save or re-train the model"
        ) from None
    model.bundle_manifest_ = manifest
    return model


def _read_model_data(path: Path, members: dict[str, bytes]) -> tuple[dict, dict[str, np.ndarray]]:
    """model.json's state and arrays.npz's arrays, refusing anything but a JSON object and plain finite numbers."""
    try:
        doc = json.loads(members["model.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise IntegrityError(f"{path}: model data cannot be read (model.json: {exc}); the bundle is damaged") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("state"), dict):
        raise IntegrityError(f"{path}: model data cannot be read (model.json holds no state); the bundle is damaged")
    try:
        npz = np.load(io.BytesIO(members["arrays.npz"]), allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise IntegrityError(
                f"{path}: model data cannot be read (arrays.npz is no .npz archive); the bundle is damaged"
            )
        with npz:
            arrays = {name: npz[name] for name in npz.files}
    except IntegrityError:
        raise
    except (*_ZIP_ERRORS, KeyError, UnicodeDecodeError) as exc:
        # ValueError includes numpy's refusal of pickled (object) arrays
        raise IntegrityError(f"{path}: model data cannot be read (arrays.npz: {exc}); the bundle is damaged") from None
    for name, arr in arrays.items():
        if arr.dtype.kind not in "biuf":
            raise IntegrityError(f"{path}: array {name!r} in arrays.npz has dtype {arr.dtype}, expected numbers; "
                                 "the bundle is damaged or was edited")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise IntegrityError(f"{path}: array {name!r} in arrays.npz holds NaN or infinite values; "
                                 "the bundle is damaged or was edited")
    return doc["state"], arrays


def _check_rebuilt(model) -> None:
    """Raise ValueError where the parts of a rebuilt model disagree.

    It knows the fitted layout shared by csnlp's models: ``classes_``; a ``features_`` transformer with one IDF
    weight per vocabulary term (or per hash bucket); one row of coefficients and one intercept (and threshold)
    per class, for each linear model; temperatures and ensemble weights per linear model; components of a router
    (``classifier``, ``tagger``) and of a tagger (``sentiment_``), checked the same way.
    """
    for name in ("classifier", "tagger", "sentiment_"):
        part = vars(model).get(name)
        if part is not None:
            _check_rebuilt(part)
    check_params = getattr(model, "_check_params", None)
    if callable(check_params):
        check_params()
    _check_text_params(model)
    features = vars(model).get("features_")
    if features is None:
        return
    n_features = _n_features(features)
    classes = np.asarray(model.classes_)
    if classes.ndim != 1 or len(classes) == 0 or len(set(classes.tolist())) != len(classes):
        raise ValueError(f"classes must be a non-empty list of distinct labels, got {classes.tolist()!r}")
    n_classes = len(classes)
    coefs = list(model.coefs_) if hasattr(model, "coefs_") else [model.coef_]
    intercepts = list(model.intercepts_) if hasattr(model, "intercepts_") else [model.intercept_]
    if not coefs or len(coefs) != len(intercepts):
        raise ValueError(f"{len(coefs)} coefficient arrays for {len(intercepts)} intercept arrays")
    for coef, intercept in zip(coefs, intercepts):
        _expect_shape("coefficients", coef, (n_classes, n_features))
        _expect_shape("intercepts", intercept, (n_classes,))
    if hasattr(model, "thresholds_"):
        _expect_shape("thresholds", model.thresholds_, (n_classes,))
    for name in ("temperatures_", "weights_"):
        values = getattr(model, name, None)
        if values is not None and (len(values) != len(coefs) or not all(np.isfinite(values))):
            raise ValueError(f"{name} must hold one finite number per linear model ({len(coefs)}), got {values!r}")
    temperatures = list(getattr(model, "temperatures_", [])) + [getattr(model, "temperature_", 1.0)]
    if not all(t > 0 for t in temperatures):
        raise ValueError(f"temperatures must be positive, got {temperatures!r}")
    if hasattr(model, "weights_") and not (min(model.weights_) >= 0 and sum(model.weights_) > 0):
        raise ValueError(f"ensemble weights must be >= 0 with a positive sum, got {model.weights_!r}")


def _check_text_params(model) -> None:
    """The parameters that only matter at the first prediction: user words, stop words, n_jobs."""
    from csnlp.tokenizer import _normalise_user_words

    for part in (model, vars(model).get("features_")):
        if part is None:
            continue
        params = vars(part)
        if "user_words" in params:
            _normalise_user_words(params["user_words"])  # InputError names the bad word
        stop = params.get("stop_words")
        if stop is not None and (isinstance(stop, str) or not all(isinstance(w, str) for w in stop)):
            raise ValueError(f"stop_words must be a list of str, got {stop!r}")
    n_jobs = vars(model).get("n_jobs")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0):
        raise ValueError(f"n_jobs must be None or a non-zero int, got {n_jobs!r}")


def _n_features(features) -> int:
    """Width of the feature matrix ``features`` produces, after checking its IDF weights and n-gram ranges."""
    for name in ("word_ngram_range", "char_ngram_range"):
        ngram_range = getattr(features, name, None)
        if ngram_range is not None and not (
            len(ngram_range) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in ngram_range)
            and 1 <= ngram_range[0] <= ngram_range[1]
        ):
            raise ValueError(f"{name} must be None or two ints 1 <= low <= high, got {ngram_range!r}")
    if hasattr(features, "idf_"):  # hashed features: one weight per bucket, no vocabulary
        n = features.n_features
        _expect_shape("IDF weights", features.idf_, (n,))
        return n
    n = 0
    for block in features.blocks_:
        _expect_shape(f"{block.name} IDF weights", block.idf, (len(block.vocabulary),))
        if len(block.idf) and not block.idf.min() > 0:  # smoothed IDF is >= 1; 0 would divide by zero later
            raise ValueError(f"{block.name} IDF weights must be positive")
        n += len(block.vocabulary)
    return n


def _expect_shape(what: str, arr, shape: tuple[int, ...]) -> None:
    arr = np.asarray(arr)
    if arr.shape != shape or arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} have shape {arr.shape} and dtype {arr.dtype}, expected shape {shape} of numbers")
