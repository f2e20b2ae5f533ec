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
either the old bundle or the new one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import logging
import os
import shutil
import uuid
import warnings
import zipfile
from pathlib import Path

import numpy as np

from csnlp.exceptions import BundleExistsError, IncompatibleModelError, IntegrityError, InputError

__all__ = ["save", "load", "read_manifest", "FORMAT_VERSION", "register_kind"]

logger = logging.getLogger(__name__)

FORMAT_NAME = "csnlp-bundle"
FORMAT_VERSION = 1
_MEMBERS = ("model.json", "arrays.npz")

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
    return sorted(path.parent.glob(f".{path.name}.{tag}-*"))


def _recover(path: Path) -> None:
    """Finish or roll back a directory save that was interrupted between its two renames."""
    if path.exists():
        for leftover in _siblings(path, "old") + _siblings(path, "tmp"):
            shutil.rmtree(leftover, ignore_errors=True)
        return
    for candidate in _siblings(path, "new"):
        try:
            _read_dir_members(candidate)
            os.replace(candidate, path)
            logger.warning("completed an interrupted save of %s", path)
            break
        except Exception:
            shutil.rmtree(candidate, ignore_errors=True)
    if not path.exists():
        for old in _siblings(path, "old"):
            os.replace(old, path)
            logger.warning("restored %s after an interrupted save", path)
            break


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
    token = uuid.uuid4().hex[:8]
    if path.suffix == ".zip":
        if path.exists() and not overwrite:
            raise BundleExistsError(f"{path} already exists: pass overwrite=True (CLI: --overwrite) to replace it")
        tmp = path.with_name(f".{path.name}.tmp-{token}")
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                for name, data in members.items():
                    zf.writestr(name, data)
            with open(tmp, "rb") as fh:
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
    new = path.with_name(f".{path.name}.new-{token}")
    new.mkdir()
    try:
        # manifest last: a directory without one is never mistaken for a bundle
        for name in (*_MEMBERS, "manifest.json"):
            _write_file(new / name, members[name])
        _fsync_dir(new)
        if path.exists():
            old = path.with_name(f".{path.name}.old-{token}")
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


def _read_members(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        _recover(path)
        return _read_dir_members(path)
    if not path.exists():
        _recover(path)
        if path.is_dir():
            return _read_dir_members(path)
        raise FileNotFoundError(f"no model bundle at {path}: check the path, or train one with 'csnlp train'")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            missing = [n for n in ("manifest.json", *_MEMBERS) if n not in names]
            if missing:
                raise IntegrityError(f"{path} is not a complete csnlp bundle: {', '.join(missing)} missing")
            return {n: zf.read(n) for n in ("manifest.json", *_MEMBERS)}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise IntegrityError(f"{path} is not a readable csnlp bundle (truncated or not a zip): {exc}") from None


def _parse_manifest(path: Path, raw: bytes) -> dict:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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
        A member is missing, truncated or edited.
    IncompatibleModelError
        The bundle format is newer than this csnlp reads.
    """
    path = Path(path)
    members = _read_members(path)
    manifest = _parse_manifest(path, members["manifest.json"])
    _verify(path, manifest, members)
    mine = _versions()
    theirs = manifest.get("versions") or {}
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
    if kind not in _KINDS:
        raise IncompatibleModelError(f"{path}: unknown model kind {kind!r}; upgrade csnlp")
    try:
        state = json.loads(members["model.json"].decode("utf-8"))["state"]
        with np.load(io.BytesIO(members["arrays.npz"]), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise IntegrityError(f"{path}: model data cannot be read ({exc})") from None
    model = _KINDS[kind]._from_state(manifest.get("params") or {}, state, arrays)
    model.bundle_manifest_ = manifest
    return model
