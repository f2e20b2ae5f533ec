"""csnlp.persistence: bundles (manifest + model.json + arrays.npz), checksums, versions, no pickle on load."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

import csnlp
from csnlp import (
    BundleExistsError,
    IncompatibleModelError,
    InputError,
    IntegrityError,
    IntentClassifier,
    NotFittedError,
)
from csnlp.training import train_intent_classifier

MEMBERS = ("manifest.json", "model.json", "arrays.npz")
PROBE = ["我要退货", "退款还没到账", "快递到哪里了", "帮我开个发票", "", "ＡＰＰ打不開了！！！", "电话13812345678"]


@pytest.fixture
def bundle(fitted_clf, tmp_path):
    """A directory bundle of the session's fitted classifier."""
    return csnlp.save(fitted_clf, tmp_path / "model")


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest_file(bundle_dir) -> dict:
    return json.loads((bundle_dir / "manifest.json").read_text(encoding="utf-8"))


def _write_manifest_file(bundle_dir, manifest: dict) -> None:
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")


# -- round trip ---------------------------------------------------------------------------------------------------
def test_directory_round_trip_gives_identical_probabilities(fitted_clf, bundle):
    assert bundle.is_dir()
    assert sorted(p.name for p in bundle.iterdir()) == sorted(MEMBERS)
    loaded = csnlp.load(bundle)
    assert isinstance(loaded, IntentClassifier)
    assert loaded.classes_.tolist() == fitted_clf.classes_.tolist()
    np.testing.assert_array_equal(loaded.predict_proba(PROBE), fitted_clf.predict_proba(PROBE))
    assert loaded.predict(PROBE).tolist() == fitted_clf.predict(PROBE).tolist()


def test_zip_round_trip_gives_identical_probabilities(fitted_clf, tmp_path):
    path = csnlp.save(fitted_clf, tmp_path / "model.zip")
    assert path.is_file()
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == sorted(MEMBERS)
    loaded = csnlp.load(str(path))  # str paths work too
    np.testing.assert_array_equal(loaded.predict_proba(PROBE), fitted_clf.predict_proba(PROBE))


def test_round_trip_keeps_user_words_and_stop_words(intent_texts, intent_labels, tmp_path):
    clf = IntentClassifier(user_words=[("运费险", 1000, "n")], stop_words={"的"}, calibration_folds=0)
    clf.fit(intent_texts + ["运费险怎么赔", "运费险理赔"], intent_labels + ["refund", "refund"])
    loaded = csnlp.load(csnlp.save(clf, tmp_path / "m"))
    probe = PROBE + ["运费险的钱怎么赔"]
    np.testing.assert_array_equal(loaded.predict_proba(probe), clf.predict_proba(probe))
    assert "word:运费险" in set(loaded.features_.get_feature_names_out())


def test_loaded_model_can_be_saved_again(fitted_clf, bundle, tmp_path):
    loaded = csnlp.load(bundle)
    again = csnlp.load(csnlp.save(loaded, tmp_path / "again"))
    np.testing.assert_array_equal(again.predict_proba(PROBE), fitted_clf.predict_proba(PROBE))


def test_save_creates_parent_directories(fitted_clf, tmp_path):
    path = csnlp.save(fitted_clf, tmp_path / "a" / "b" / "model")
    assert (path / "manifest.json").is_file()


# -- existing paths -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["model", "model.zip"])
def test_existing_path_needs_overwrite(fitted_clf, tmp_path, name):
    path = csnlp.save(fitted_clf, tmp_path / name)
    before = {p.name: p.read_bytes() for p in path.iterdir()} if path.is_dir() else path.read_bytes()
    with pytest.raises(BundleExistsError, match="already exists: pass overwrite=True"):
        csnlp.save(fitted_clf, path)
    after = {p.name: p.read_bytes() for p in path.iterdir()} if path.is_dir() else path.read_bytes()
    assert after == before


def test_bundle_exists_error_is_a_file_exists_error(fitted_clf, bundle):
    with pytest.raises(FileExistsError):
        csnlp.save(fitted_clf, bundle)


@pytest.mark.parametrize("name", ["model", "model.zip"])
def test_overwrite_replaces_the_bundle(fitted_clf, intent_texts, intent_labels, tmp_path, name):
    path = csnlp.save(fitted_clf, tmp_path / name)
    two = [(t, l) for t, l in zip(intent_texts, intent_labels) if l in ("refund", "shipping")]
    small = IntentClassifier(calibration_folds=0).fit([t for t, _ in two], [l for _, l in two])
    csnlp.save(small, path, overwrite=True)
    assert csnlp.load(path).classes_.tolist() == ["refund", "shipping"]
    # no temporary siblings are left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_overwrite_refuses_a_plain_file(fitted_clf, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("keep me", encoding="utf-8")
    with pytest.raises(BundleExistsError, match="not a bundle directory"):
        csnlp.save(fitted_clf, path, overwrite=True)
    assert path.read_text(encoding="utf-8") == "keep me"


def test_save_refuses_unfitted_and_foreign_models(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted"):
        csnlp.save(IntentClassifier(), tmp_path / "m")
    with pytest.raises(InputError, match="cannot save a dict"):
        csnlp.save({"not": "a model"}, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_load_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model bundle at"):
        csnlp.load(tmp_path / "nothing-here")


# -- manifest --------------------------------------------------------------------------------------------------------
def test_manifest_contents(fitted_clf, bundle):
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    manifest = csnlp.read_manifest(bundle)
    assert manifest == _read_manifest_file(bundle)
    assert manifest["format"] == "csnlp-bundle"
    assert manifest["format_version"] == 1
    assert manifest["kind"] == "intent_classifier"
    assert manifest["versions"]["csnlp"] == csnlp.__version__
    for lib in ("scikit-learn", "numpy", "jieba"):
        assert manifest["versions"][lib]
    assert manifest["labels"] == fitted_clf.classes_.tolist()
    params = manifest["params"]
    assert set(params) == set(fitted_clf.get_params())
    assert params["C"] == fitted_clf.C
    assert params["random_state"] == 0
    assert params["word_ngram_range"] == list(fitted_clf.word_ngram_range)
    assert manifest["training_data_sha256"] is None  # fitted directly, not from a file
    assert manifest["files"] == {
        "model.json": _sha256(bundle / "model.json"),
        "arrays.npz": _sha256(bundle / "arrays.npz"),
    }
    created = dt.datetime.fromisoformat(manifest["created"])
    assert created.tzinfo is not None
    assert abs((created - before).total_seconds()) < 120


def test_manifest_of_a_model_trained_from_a_file(corpus_jsonl, heldout_jsonl, tmp_path, write_jsonl):
    clf = train_intent_classifier(corpus_jsonl, config={"calibration_folds": 0}, dev=heldout_jsonl)
    manifest = csnlp.read_manifest(csnlp.save(clf, tmp_path / "m"))
    sha = manifest["training_data_sha256"]
    assert isinstance(sha, str) and len(sha) == 64 and int(sha, 16) >= 0
    assert sha == csnlp.load_dataset(corpus_jsonl).fingerprint()
    assert manifest["metrics"]["n"] == 16
    assert 0 <= manifest["metrics"]["accuracy"] <= 1
    assert manifest["metadata"]["training"]["n_texts"] == 80
    assert manifest["params"]["calibration_folds"] == 0

    # other training data, another fingerprint
    rows = [json.loads(line) for line in corpus_jsonl.read_text(encoding="utf-8").splitlines()]
    rows[0]["label"] = "refund"
    other = write_jsonl(tmp_path / "other.jsonl", rows)
    clf2 = train_intent_classifier(other, config={"calibration_folds": 0})
    assert csnlp.read_manifest(csnlp.save(clf2, tmp_path / "m2"))["training_data_sha256"] != sha


def test_same_data_gives_the_same_fingerprint_from_jsonl_and_csv(corpus_jsonl, corpus_csv):
    assert csnlp.load_dataset(corpus_jsonl).fingerprint() == csnlp.load_dataset(corpus_csv).fingerprint()


def test_save_metadata_goes_into_the_manifest(fitted_clf, tmp_path):
    path = csnlp.save(fitted_clf, tmp_path / "m", metadata={"owner": "客服组", "metrics": {"accuracy": 0.9}})
    manifest = csnlp.read_manifest(path)
    assert manifest["metadata"] == {"owner": "客服组"}
    assert manifest["metrics"] == {"accuracy": 0.9}


def test_two_fits_with_the_same_seed_give_identical_bundles(intent_texts, intent_labels, tmp_path):
    paths = []
    for i in range(2):
        clf = IntentClassifier(random_state=11).fit(intent_texts, intent_labels)
        paths.append(csnlp.save(clf, tmp_path / f"m{i}"))
    a, b = paths
    for member in ("model.json", "arrays.npz"):
        assert (a / member).read_bytes() == (b / member).read_bytes(), member
    ma, mb = _read_manifest_file(a), _read_manifest_file(b)
    assert set(ma) == set(mb)
    assert {k for k in ma if ma[k] != mb[k]} <= {"created"}


# -- damaged bundles ---------------------------------------------------------------------------------------------------
def test_flipped_byte_in_arrays_is_detected(bundle):
    path = bundle / "arrays.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="arrays.npz does not match its sha256"):
        csnlp.load(bundle)
    with pytest.raises(IntegrityError, match="arrays.npz does not match its sha256"):
        csnlp.read_manifest(bundle)


@pytest.mark.parametrize("member", ["model.json", "arrays.npz"])
def test_truncated_member_is_detected(bundle, member):
    path = bundle / member
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(IntegrityError, match=f"{member} does not match its sha256"):
        csnlp.load(bundle)


@pytest.mark.parametrize("member", MEMBERS)
def test_deleted_member_is_detected(bundle, member):
    (bundle / member).unlink()
    with pytest.raises(IntegrityError, match=f"{member} is missing"):
        csnlp.load(bundle)


def test_edited_model_json_is_detected(bundle):
    path = bundle / "model.json"
    model = json.loads(path.read_text(encoding="utf-8"))
    model["state"]["classes"][0] = "hacked"
    path.write_text(json.dumps(model, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(IntegrityError, match="model.json does not match its sha256"):
        csnlp.load(bundle)


def test_manifest_that_is_not_json(bundle):
    (bundle / "manifest.json").write_bytes(b'{"format": "csnlp-bundle", ')
    with pytest.raises(IntegrityError, match="manifest.json is not valid JSON"):
        csnlp.load(bundle)


def test_manifest_without_checksums(bundle):
    manifest = _read_manifest_file(bundle)
    del manifest["files"]
    _write_manifest_file(bundle, manifest)
    with pytest.raises(IntegrityError, match="does not list the checksums"):
        csnlp.load(bundle)


def test_truncated_zip_is_detected(fitted_clf, tmp_path):
    path = csnlp.save(fitted_clf, tmp_path / "m.zip")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(IntegrityError, match="truncated or not a zip"):
        csnlp.load(path)


def test_zip_with_a_deleted_member_is_detected(fitted_clf, tmp_path):
    path = csnlp.save(fitted_clf, tmp_path / "m.zip")
    with zipfile.ZipFile(path) as zf:
        kept = {name: zf.read(name) for name in zf.namelist() if name != "arrays.npz"}
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in kept.items():
            zf.writestr(name, data)
    with pytest.raises(IntegrityError, match="arrays.npz missing"):
        csnlp.load(path)


def test_a_random_file_is_not_a_bundle(tmp_path):
    path = tmp_path / "model.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(IntegrityError, match="not a readable csnlp bundle"):
        csnlp.load(path)


# -- versions -----------------------------------------------------------------------------------------------------------
def test_newer_format_version_is_refused(bundle):
    manifest = _read_manifest_file(bundle)
    manifest["format_version"] = 999
    _write_manifest_file(bundle, manifest)
    with pytest.raises(IncompatibleModelError, match="bundle format 999, newer than the 1 this csnlp reads: upgrade"):
        csnlp.load(bundle)


@pytest.mark.parametrize("version", ["1", None, 1.0])
def test_format_version_must_be_an_int(bundle, version):
    manifest = _read_manifest_file(bundle)
    manifest["format_version"] = version
    _write_manifest_file(bundle, manifest)
    with pytest.raises(IntegrityError, match="no integer format_version"):
        csnlp.load(bundle)


def test_manifest_of_another_format_is_refused(bundle):
    manifest = _read_manifest_file(bundle)
    manifest["format"] = "skops"
    _write_manifest_file(bundle, manifest)
    with pytest.raises(IntegrityError, match="not a csnlp bundle manifest"):
        csnlp.load(bundle)


def test_unknown_model_kind_is_refused(bundle):
    manifest = _read_manifest_file(bundle)
    manifest["kind"] = "time_machine"
    _write_manifest_file(bundle, manifest)
    with pytest.raises(IncompatibleModelError, match="unknown model kind 'time_machine'"):
        csnlp.load(bundle)


def test_other_library_version_warns_but_loads(fitted_clf, bundle):
    manifest = _read_manifest_file(bundle)
    manifest["versions"]["csnlp"] = "0.0.1"  # the manifest itself is not checksummed: nothing else to change
    _write_manifest_file(bundle, manifest)
    with pytest.warns(UserWarning, match=r"written with csnlp 0\.0\.1; this is csnlp " + csnlp.__version__):
        loaded = csnlp.load(bundle)
    np.testing.assert_array_equal(loaded.predict_proba(PROBE), fitted_clf.predict_proba(PROBE))


def test_same_versions_load_without_warning(bundle):
    # pytest runs with warnings as errors: any warning here fails the test
    csnlp.load(bundle)


# -- no code execution on load ---------------------------------------------------------------------------------------------
class _Payload:
    """Unpickling this object creates the marker file (a stand-in for arbitrary code)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant_pickle(bundle_dir, marker, replace: str | None) -> None:
    with np.load(bundle_dir / "arrays.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(str(marker))
    arrays[replace or "evil"] = evil
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # object arrays are pickled by np.savez
    (bundle_dir / "arrays.npz").write_bytes(buf.getvalue())
    manifest = _read_manifest_file(bundle_dir)
    manifest["files"]["arrays.npz"] = _sha256(bundle_dir / "arrays.npz")  # checksums match the payload
    _write_manifest_file(bundle_dir, manifest)


@pytest.mark.parametrize("replace", ["coef_0", None], ids=["replaces-coef", "extra-array"])
def test_planted_pickle_payload_is_never_executed(bundle, tmp_path, replace):
    marker = tmp_path / "pwned"
    _plant_pickle(bundle, marker, replace)
    csnlp.read_manifest(bundle)  # checksums agree: the manifest alone is readable
    assert not marker.exists()
    with pytest.raises(IntegrityError, match="model data cannot be read"):
        csnlp.load(bundle)
    assert not marker.exists()


def test_planted_pickle_payload_in_a_zip_is_never_executed(fitted_clf, tmp_path):
    unpacked = csnlp.save(fitted_clf, tmp_path / "dir")
    marker = tmp_path / "pwned"
    _plant_pickle(unpacked, marker, "intercept_0")
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name in MEMBERS:
            zf.writestr(name, (unpacked / name).read_bytes())
    with pytest.raises(IntegrityError, match="model data cannot be read"):
        csnlp.load(path)
    assert not marker.exists()


def test_the_payload_really_runs_when_unpickled(tmp_path):
    # guards the two tests above: the planted object does create the marker when pickle is allowed
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(str(marker))
    buf = io.BytesIO()
    np.save(buf, evil)
    buf.seek(0)
    handle = np.load(buf, allow_pickle=True)[0]
    handle.close()
    assert marker.exists()


# -- interrupted saves ------------------------------------------------------------------------------------------------------
def test_interrupted_overwrite_is_recovered_on_load(fitted_clf, bundle, tmp_path):
    # a save that died between its two renames: the old bundle moved aside, the new one complete
    new = tmp_path / ".model.new-deadbeef"
    bundle.rename(tmp_path / ".model.old-deadbeef")
    csnlp.save(fitted_clf, tmp_path / "elsewhere").rename(new)
    loaded = csnlp.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict_proba(PROBE), fitted_clf.predict_proba(PROBE))
    assert (tmp_path / "model" / "manifest.json").is_file()
    assert not new.exists()


def test_incomplete_new_bundle_falls_back_to_the_old_one(fitted_clf, bundle, tmp_path):
    bundle.rename(tmp_path / ".model.old-deadbeef")
    incomplete = tmp_path / ".model.new-deadbeef"
    incomplete.mkdir()
    (incomplete / "model.json").write_text("{}", encoding="utf-8")
    loaded = csnlp.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict_proba(PROBE), fitted_clf.predict_proba(PROBE))
    assert not incomplete.exists()
