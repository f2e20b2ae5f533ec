"""csnlp.intent: IntentClassifier, the scikit-learn estimator contract, and its input checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sklearn.exceptions
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

import csnlp
from csnlp import InputError, IntentClassifier, NotFittedError, Prediction

# -- fitted behaviour -----------------------------------------------------------------------------------------


def test_fit_returns_self_and_sets_classes(intent_texts, intent_labels):
    clf = IntentClassifier(calibration_folds=0)
    assert clf.fit(intent_texts, intent_labels) is clf
    assert clf.classes_.tolist() == sorted(set(intent_labels))


def test_predicts_unseen_messages(fitted_clf, heldout):
    texts = [t for t, _ in heldout]
    expected = [label for _, label in heldout]
    predicted = fitted_clf.predict(texts).tolist()
    correct = sum(p == e for p, e in zip(predicted, expected))
    assert correct >= 13, list(zip(texts, predicted, expected))


def test_predict_proba_shape_range_and_argmax(fitted_clf, heldout):
    texts = [t for t, _ in heldout]
    proba = fitted_clf.predict_proba(texts)
    assert proba.shape == (len(texts), len(fitted_clf.classes_))
    assert np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert fitted_clf.classes_[proba.argmax(axis=1)].tolist() == fitted_clf.predict(texts).tolist()


def test_decision_function_is_monotone_in_probability(fitted_clf, heldout):
    texts = [t for t, _ in heldout]
    scores = fitted_clf.decision_function(texts)
    proba = fitted_clf.predict_proba(texts)
    assert scores.shape == proba.shape
    np.testing.assert_allclose(np.exp(scores), proba, rtol=1e-9, atol=1e-12)
    assert (scores.argmax(axis=1) == proba.argmax(axis=1)).all()


def test_top_k(fitted_clf):
    rows = fitted_clf.top_k(["我要退货", "快递到哪了"], k=3)
    assert len(rows) == 2
    for row, expected in zip(rows, ["return_goods", "shipping"]):
        assert len(row) == 3
        assert row[0][0] == expected
        scores = [score for _, score in row]
        assert scores == sorted(scores, reverse=True)
        assert len({label for label, _ in row}) == 3
        assert all(isinstance(label, str) and isinstance(score, float) for label, score in row)


def test_top_k_larger_than_the_number_of_classes(fitted_clf):
    (row,) = fitted_clf.top_k(["我要退货"], k=50)
    assert len(row) == len(fitted_clf.classes_)
    assert sum(score for _, score in row) == pytest.approx(1.0)


@pytest.mark.parametrize("k", [0, -1, 1.5, "3", None])
def test_top_k_refuses_bad_k(fitted_clf, k):
    with pytest.raises(ValueError, match="k must be a positive int"):
        fitted_clf.top_k(["我要退货"], k=k)


def test_predict_one(fitted_clf):
    pred = fitted_clf.predict_one("我要投诉你们的快递员", k=2)
    assert isinstance(pred, Prediction)
    assert pred.intent == "complaint"
    assert pred.confidence == pred.top[0][1]
    assert 0 < pred.confidence <= 1
    assert len(pred.top) == 2
    assert pred.truncated is False
    as_dict = json.loads(json.dumps(pred.to_dict(), ensure_ascii=False))
    assert as_dict["intent"] == "complaint"
    assert [t["intent"] for t in as_dict["top"]] == [label for label, _ in pred.top]


def test_predictions_match_predict_one(fitted_clf, heldout):
    texts = [t for t, _ in heldout[:5]]
    batch = fitted_clf.predictions(texts, k=2)
    assert [p.intent for p in batch] == fitted_clf.predict(texts).tolist()
    for text, pred in zip(texts, batch):
        single = fitted_clf.predict_one(text, k=2)
        assert pred.intent == single.intent
        assert [label for label, _ in pred.top] == [label for label, _ in single.top]
        assert [score for _, score in pred.top] == pytest.approx([score for _, score in single.top], abs=1e-12)
        assert pred.confidence == pytest.approx(single.confidence, abs=1e-12)


def test_predict_one_refuses_a_list(fitted_clf):
    with pytest.raises(InputError, match="text must be str, got list"):
        fitted_clf.predict_one(["我要退货"])


# -- documented edge cases -------------------------------------------------------------------------------------
def test_empty_list_gives_empty_output(fitted_clf):
    n_classes = len(fitted_clf.classes_)
    assert fitted_clf.predict([]).shape == (0,)
    assert fitted_clf.predict_proba([]).shape == (0, n_classes)
    assert fitted_clf.decision_function([]).shape == (0, n_classes)
    assert fitted_clf.top_k([]) == []
    assert fitted_clf.predictions([]) == []


@pytest.mark.parametrize("text", ["", "   ", "\u200b", "！！！", "😀"])
def test_empty_or_meaningless_message_still_gets_a_prediction(fitted_clf, text):
    proba = fitted_clf.predict_proba([text])
    assert proba.shape == (1, len(fitted_clf.classes_))
    assert proba.sum() == pytest.approx(1.0)
    assert fitted_clf.predict([text])[0] in fitted_clf.classes_
    assert fitted_clf.predict_one(text).intent in fitted_clf.classes_


def test_very_long_message_is_truncated_and_predicted(fitted_clf):
    long_text = "我要退货" + "啊" * 100_000
    pred = fitted_clf.predict_one(long_text)
    assert pred.intent in fitted_clf.classes_
    assert pred.truncated is True
    assert fitted_clf.predictions([long_text, "我要退货"])[0].truncated is True
    assert fitted_clf.predictions([long_text, "我要退货"])[1].truncated is False
    # documented: only the first max_length characters are looked at
    np.testing.assert_allclose(
        fitted_clf.predict_proba([long_text]),
        fitted_clf.predict_proba([long_text[: fitted_clf.max_length]]),
        rtol=0,
        atol=1e-12,
    )


def test_accepts_tuples_generators_and_numpy_arrays(fitted_clf):
    texts = ["我要退货", "快递到哪了"]
    expected = fitted_clf.predict(texts).tolist()
    assert fitted_clf.predict(tuple(texts)).tolist() == expected
    assert fitted_clf.predict(t for t in texts).tolist() == expected
    assert fitted_clf.predict(np.array(texts)).tolist() == expected
    assert fitted_clf.predict(np.array(texts, dtype=object)).tolist() == expected


# -- bad input ---------------------------------------------------------------------------------------------------
BAD_X = [
    pytest.param(None, "got NoneType", id="None"),
    pytest.param(b"\xe6\x88\x91\xe8\xa6\x81", "got bytes", id="bytes"),
    pytest.param(42, "got int", id="int"),
    pytest.param("我要退货", "got a single str: wrap it in a list", id="bare-str"),
    pytest.param({"text": "我要退货"}, "got dict", id="dict"),
    pytest.param(["我要退货", float("nan")], r"X\[1\] is NaN", id="NaN-in-list"),
    pytest.param(["我要退货", None], r"X\[1\] must be str, got NoneType", id="None-in-list"),
    pytest.param(["我要退货", b"x"], r"X\[1\] is bytes", id="bytes-in-list"),
    pytest.param(["我要退货", 3], r"X\[1\] must be str, got int", id="int-in-list"),
]


@pytest.mark.parametrize(("bad", "match"), BAD_X)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "top_k", "predictions"])
def test_bad_input_to_prediction_methods(fitted_clf, method, bad, match):
    with pytest.raises(InputError, match=match):
        getattr(fitted_clf, method)(bad)


@pytest.mark.parametrize(("bad", "match"), BAD_X)
def test_bad_input_to_fit(bad, match):
    with pytest.raises(InputError, match=match):
        IntentClassifier().fit(bad, ["a", "b"])


def test_input_error_is_also_a_type_error(fitted_clf):
    with pytest.raises(TypeError):
        fitted_clf.predict("我要退货")


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "top_k", "predictions"])
def test_not_fitted(method):
    with pytest.raises(NotFittedError, match="not fitted yet: call fit"):
        getattr(IntentClassifier(), method)(["我要退货"])


def test_not_fitted_is_also_sklearns_not_fitted_error():
    assert csnlp.NotFittedError is NotFittedError
    with pytest.raises(sklearn.exceptions.NotFittedError):
        IntentClassifier().predict_one("我要退货")


def test_fewer_than_two_classes():
    with pytest.raises(InputError, match="at least 2 different intents"):
        IntentClassifier().fit(["我要退货", "怎么退货"], ["return_goods", "return_goods"])


def test_label_count_mismatch():
    with pytest.raises(InputError, match="got 3 texts but 2 labels"):
        IntentClassifier().fit(["我要退货", "怎么退货", "快递到哪了"], ["return_goods", "shipping"])


def test_empty_training_set():
    with pytest.raises(InputError, match="empty list of texts"):
        IntentClassifier().fit([], [])


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (["a", None], r"y\[1\] is missing"),
        (["a", float("nan")], r"y\[1\] is missing"),
        (["a", ""], r"y\[1\] is an empty label"),
        (["a", ["b", "c"]], r"y\[1\] must be a single label, got list"),
        ("ab", "single str"),
        (None, "y is None"),
    ],
)
def test_bad_labels(labels, match):
    with pytest.raises(InputError, match=match):
        IntentClassifier().fit(["我要退货", "快递到哪了"], labels)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"C": 0}, "C must be a positive number, got 0"),
        ({"C": -1.0}, "C must be a positive number"),
        ({"C": "1"}, "C must be a positive number"),
        ({"C_logistic": 0}, "C_logistic must be a positive number"),
        ({"calibration_folds": 1}, "calibration_folds must be 0 or an int >= 2, got 1"),
        ({"calibration_folds": 2.5}, "calibration_folds must be 0 or an int >= 2"),
        ({"max_length": 0}, "max_length must be a positive int, got 0"),
        ({"max_length": 10.5}, "max_length must be a positive int"),
        ({"word_ngram_range": None, "char_ngram_range": None}, "both None"),
    ],
)
def test_invalid_hyper_parameters(intent_texts, intent_labels, params, match):
    clf = IntentClassifier(**params)  # __init__ stores without validating
    assert clf.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ValueError, match=match):
        clf.fit(intent_texts, intent_labels)


# -- scikit-learn contract -----------------------------------------------------------------------------------------
def test_init_is_keyword_only():
    with pytest.raises(TypeError):
        IntentClassifier((1, 2))


def test_clone_gives_an_unfitted_copy_with_the_same_params(fitted_clf):
    clf = IntentClassifier(user_words=["运费险"], stop_words={"的"}, C=2.0, random_state=7)
    copy_ = clone(clf)
    assert copy_.get_params() == clf.get_params()
    cloned_fitted = clone(fitted_clf)
    assert cloned_fitted.get_params() == fitted_clf.get_params()
    assert not hasattr(cloned_fitted, "classes_")
    with pytest.raises(NotFittedError):
        cloned_fitted.predict(["我要退货"])


def test_cross_val_score(fitted_clf, intent_texts, intent_labels):
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    scores = cross_val_score(IntentClassifier(calibration_folds=0), intent_texts, intent_labels, cv=cv)
    assert scores.shape == (3,)
    assert scores.mean() > 0.5  # 8 intents: chance is 0.125


def test_grid_search(fitted_clf, intent_texts, intent_labels):
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    search = GridSearchCV(IntentClassifier(calibration_folds=0), {"C": [0.1, 1.0]}, cv=cv)
    search.fit(intent_texts, intent_labels)
    assert search.best_params_["C"] in (0.1, 1.0)
    assert search.best_estimator_.C == search.best_params_["C"]
    assert search.predict(["我要退货"]).tolist() == ["return_goods"]


def test_fit_on_raw_texts_without_a_pipeline(intent_texts, intent_labels):
    # no vectoriser, no preprocessing: raw messages in, intents out
    clf = IntentClassifier(calibration_folds=0).fit(intent_texts, intent_labels)
    assert clf.predict(["ＡＰＰ上怎麼開發票？？"]).tolist() == ["invoice"]


def test_refit_replaces_all_fitted_state(intent_texts, intent_labels):
    clf = IntentClassifier(calibration_folds=0).fit(intent_texts, intent_labels)
    two = [(t, l) for t, l in zip(intent_texts, intent_labels) if l in ("refund", "shipping")]
    clf.fit([t for t, _ in two], [l for _, l in two])
    assert clf.classes_.tolist() == ["refund", "shipping"]
    assert clf.predict_proba(["快递到哪了"]).shape == (1, 2)
    assert clf.predict(["我要退货"])[0] in ("refund", "shipping")


def test_binary_problem(intent_texts, intent_labels):
    two = [(t, l) for t, l in zip(intent_texts, intent_labels) if l in ("refund", "shipping")]
    clf = IntentClassifier().fit([t for t, _ in two], [l for _, l in two])
    proba = clf.predict_proba(["退款还没到账", "快递到哪里了"])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.predict(["退款还没到账", "快递到哪里了"]).tolist() == ["refund", "shipping"]


def test_user_words_and_stop_words_reach_the_model(intent_texts, intent_labels):
    clf = IntentClassifier(user_words=["运费险"], stop_words=["的"], calibration_folds=0)
    clf.fit(intent_texts + ["运费险怎么赔", "运费险理赔"], intent_labels + ["refund", "refund"])
    names = set(clf.features_.get_feature_names_out())
    assert "word:运费险" in names
    assert "word:的" not in names


def test_single_character_words_are_features(fitted_clf):
    assert "word:退" in set(fitted_clf.features_.get_feature_names_out())


@pytest.mark.parametrize(
    "params",
    [
        {"ensemble_max_samples": 0},  # linear SVM only
        {"calibration_folds": 0},
        {"calibration_folds": 5},
        {"class_weight": None},
        {"class_weight": {"refund": 2.0}, "calibration_folds": 0},
        {"word_ngram_range": None},
        {"char_ngram_range": None},
        {"hmm": True},
        {"min_df": 2},
        {"max_features": 50},
        {"sublinear_tf": False},
        {"random_state": None},
        {"max_length": 5},
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()),
)
def test_other_settings_fit_predict_and_round_trip(intent_texts, intent_labels, tmp_path, params):
    probe = ["我要退货", "快递到哪里了", ""]
    clf = IntentClassifier(**params).fit(intent_texts, intent_labels)
    proba = clf.predict_proba(probe)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert clf.predict(probe[:2]).tolist() == ["return_goods", "shipping"]
    loaded = csnlp.load(csnlp.save(clf, tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict_proba(probe), proba)


def test_class_weight_dict_with_calibration(intent_texts, intent_labels):
    clf = IntentClassifier(class_weight={"refund": 2.0, "complaint": 3.0}).fit(intent_texts, intent_labels)
    assert clf.predict(["退款还没到账"]).tolist() == ["refund"]


def test_texts_that_are_all_empty_cannot_be_learned_from():
    with pytest.raises(InputError, match="no word features could be built"):
        IntentClassifier().fit(["", "  ", "\u200b"], ["a", "b", "a"])


def test_same_random_state_gives_identical_probabilities(intent_texts, intent_labels, heldout):
    texts = [t for t, _ in heldout]
    a = IntentClassifier(random_state=3).fit(intent_texts, intent_labels)
    b = IntentClassifier(random_state=3).fit(intent_texts, intent_labels)
    np.testing.assert_array_equal(a.predict_proba(texts), b.predict_proba(texts))


def test_integer_labels_keep_their_type(intent_texts, intent_labels):
    classes = sorted(set(intent_labels))
    y = [classes.index(label) for label in intent_labels]
    clf = IntentClassifier(calibration_folds=0).fit(intent_texts, y)
    assert clf.score(intent_texts, y) > 0.9


def test_batch_paths_give_the_same_probabilities(fitted_clf, heldout):
    """Small batches go text by text, large ones through the vectorised path, repeated texts are featurised
    once: all three must give bit-identical probabilities (decisions must not depend on batch size)."""
    texts = [t for t, _ in heldout] * 2 + ["", "在吗在吗", "<PHONE>"]
    batch = fitted_clf.predict_proba(texts)
    one_by_one = np.vstack([fitted_clf.predict_proba([t]) for t in texts])
    assert np.array_equal(batch, one_by_one)
    stats_batch = fitted_clf.predict_proba_with_stats(texts)[1]
    stats_one = np.vstack([fitted_clf.predict_proba_with_stats([t])[1] for t in texts])
    assert np.array_equal(stats_batch, stats_one)
