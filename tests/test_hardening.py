"""Hardening: real-world files, concurrency, crash safety, tampered bundles, private data, streaming.

Each section answers one point of the hardening issue; ``tests/test_fuzz.py`` holds the fuzzing. Tests that
pin a bug still present are ``xfail(strict=True)`` with the bug in their reason.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from datetime import date
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import csnlp
from csnlp import DataFormatError, IncompatibleModelError, IntegrityError, IntentClassifier, JiebaTokenizer, Router
from csnlp.cli import main as cli_main
from csnlp.datasets import DataWarning
from csnlp.kb import KnowledgeBase
from csnlp.policy import Policy
from csnlp.tag import FeedbackTagger

from conftest import FEEDBACK

# -- shared pieces ---------------------------------------------------------------------------------------------------
REPLIES = {
    "return_goods": {"reply": "亲，退货请在「我的订单」申请[，订单{order_no}]。", "sms": "退货请在我的订单申请"},
    "refund": {"reply": "退款1-3个工作日原路退回。", "sms": "退款1-3个工作日到账"},
    "shipping": {"reply": "物流请在订单详情查看[，运单{tracking_no}]。", "sms": "物流在订单详情查看"},
    "invoice": {"reply": "发票在订单详情申请。", "sms": "发票在订单详情申请"},
    "change_address": {"reply": "未发货可改地址。", "sms": "未发货可改地址"},
    "coupon": {"reply": "优惠券在「领券中心」领取。", "sms": "领券中心领取"},
}
FAQ = [
    {"id": "return_fee", "intent": "return_goods", "answer": "质量问题运费我们出。",
     "questions": ["退货运费谁出", "退货邮费要我自己付吗", "退回去的运费谁承担"]},
    {"id": "invoice_title", "intent": "invoice", "answer": "发票抬头在订单详情修改。",
     "questions": ["发票抬头怎么改", "抬头写错了怎么办", "能改发票抬头吗"]},
]
POLICY = {"human_only_intents": ["complaint"], "complaint_intents": ["complaint", "refund", "return_goods"]}


@pytest.fixture(scope="module")
def tagger() -> FeedbackTagger:
    texts = [t for ts in FEEDBACK.values() for t in ts]
    return FeedbackTagger(threshold_folds=0, random_state=0).fit(texts, [[l] for l, ts in FEEDBACK.items() for _ in ts])


def make_router(classifier, tagger, replies=REPLIES) -> Router:
    kb = KnowledgeBase.from_dict({"replies": replies, "faq": FAQ})
    return Router(classifier, kb=kb, policy=Policy.from_dict(POLICY), tagger=tagger)


@pytest.fixture(scope="module")
def router(fitted_clf, tagger) -> Router:
    return make_router(fitted_clf, tagger)


@contextlib.contextmanager
def _std_streams(stdin: bytes):
    """Strict UTF-8 std streams over bytes (as a pipe gives); yields a dict filled with "out"/"err" on exit."""
    saved = sys.stdin, sys.stdout, sys.stderr
    out, err = io.BytesIO(), io.BytesIO()
    wrappers = (io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"),
                io.TextIOWrapper(out, encoding="utf-8", write_through=True),
                io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True))
    sys.stdin, sys.stdout, sys.stderr = wrappers
    root = logging.getLogger("csnlp")
    level = root.level
    captured: dict[str, bytes] = {}
    try:
        yield captured
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        for w in wrappers[1:]:
            with contextlib.suppress(ValueError):
                w.flush()
        captured["out"], captured["err"] = out.getvalue(), err.getvalue()
        for w in wrappers:
            with contextlib.suppress(ValueError):
                w.detach()
        root.handlers = [h for h in root.handlers if not getattr(h, "_csnlp_cli", False)]  # cli.main's handler
        root.setLevel(level)


def run_cli(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """``csnlp.cli.main`` in-process: (exit code, stdout, stderr)."""
    with _std_streams(stdin) as captured, warnings.catch_warnings():
        try:
            rc = cli_main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 2
    return rc, captured["out"].decode("utf-8", "replace"), captured["err"].decode("utf-8", "replace")


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.split("\n") if line.strip()]


# =====================================================================================================================
# 2. Real-world files
# =====================================================================================================================
def _excel_csv(path: Path, rows, encoding: str = "gbk", newline: str = "\r\n", header=("text", "label"),
               bad: dict[int, str] | None = None) -> Path:
    """What Excel on Chinese Windows writes: GBK (or the given encoding), CRLF, minimal quoting.

    ``bad`` maps a 1-based *file line number* to a raw line put there instead of a record.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow(header)
    lines = buf.getvalue().split(newline)[:-1]
    for text, label in rows:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=newline).writerow([text, label])
        lines.append(buf.getvalue()[: -len(newline)])
    for lineno, raw in sorted((bad or {}).items()):
        lines.insert(lineno - 1, raw)
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


@pytest.fixture(scope="module")
def gbk_rows(intent_texts, intent_labels) -> list[tuple[str, str]]:
    """The corpus rows that GBK can hold (Excel would turn an emoji into '?')."""
    rows = []
    for text, label in zip(intent_texts, intent_labels):
        try:
            text.encode("gbk")
        except UnicodeEncodeError:
            continue
        rows.append((text, label))
    return rows


def _read(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # rare labels in the small samples below
        return csnlp.load_dataset(path, **kwargs)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_encodings_and_line_endings_are_detected(tmp_path, gbk_rows, encoding, newline, fmt):
    path = tmp_path / f"export.{fmt}"
    if fmt == "jsonl":
        body = newline.join(json.dumps({"text": t, "label": l}, ensure_ascii=False) for t, l in gbk_rows) + newline
        path.write_bytes(body.encode(encoding))
    else:
        delimiter = "\t" if fmt == "tsv" else ","
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
        writer.writerow(["text", "label"])
        writer.writerows(gbk_rows)
        path.write_bytes(buf.getvalue().encode(encoding))
    for chosen in (None, encoding):
        ds = _read(path, encoding=chosen)
        assert list(zip(ds.texts, ds.labels)) == [(t.strip(), l) for t, l in gbk_rows]
        assert ds.bad_lines == []
        assert not ds.texts[0].startswith("\ufeff")


def test_gb18030_characters_outside_gbk(tmp_path, gbk_rows):
    rows = [(f"{t}𠀀€", l) for t, l in gbk_rows[:20]]  # CJK extension B and the euro sign: not in GBK
    path = _excel_csv(tmp_path / "export.csv", rows, encoding="gb18030")
    with pytest.raises(UnicodeEncodeError):
        "𠀀".encode("gbk")
    assert _read(path).texts == [t for t, _ in rows]


def test_gbk_read_as_utf8_names_the_fix(tmp_path, gbk_rows):
    path = _excel_csv(tmp_path / "export.csv", gbk_rows)
    with pytest.raises(DataFormatError, match=r"export\.csv.*--encoding gbk"):
        _read(path, encoding="utf-8")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_broken_line_in_the_middle_is_named_and_counted(tmp_path, gbk_rows, fmt):
    rows = gbk_rows[:30]
    broken = {9: "我要退货,return_goods,多余的一列", 20: "这一行没有标签"} if fmt == "csv" else {
        9: '{"text": "我要退货", "label": ', 20: '{"text": "这一行没有标签"}'}
    if fmt == "csv":
        path = _excel_csv(tmp_path / "export.csv", rows, bad=broken)
    else:
        lines = [json.dumps({"text": t, "label": l}, ensure_ascii=False) for t, l in rows]
        for lineno, raw in sorted(broken.items()):
            lines.insert(lineno - 1, raw)
        path = tmp_path / "export.jsonl"
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    with pytest.raises(DataFormatError, match=r"export\.\w+ line 9: "):
        _read(path)
    ds = _read(path, skip_bad_lines=True)
    assert [n for n, _ in ds.bad_lines] == [9, 20]
    assert all(f"line {n}" in msg for n, msg in ds.bad_lines)
    # nothing dropped silently: every record of the file is kept or reported
    assert len(ds) + len(ds.bad_lines) == len(rows) + len(broken)
    assert ds.texts == [t for t, _ in rows]


def test_unbalanced_quote_in_the_middle_drops_nothing_silently(tmp_path, gbk_rows):
    rows = gbk_rows[:30]
    path = _excel_csv(tmp_path / "export.csv", rows, bad={9: '"我要退货,return_goods'})
    ds = _read(path, skip_bad_lines=True)
    assert len(ds) + len(ds.bad_lines) == len(rows) + 1, (len(ds), ds.bad_lines)
    assert ds.bad_lines[0][0] == 9


def test_undecodable_line_in_the_middle_is_named_by_its_line(tmp_path, gbk_rows):
    path = tmp_path / "export.csv"
    _excel_csv(path, gbk_rows * 40)  # ~100 kB: the bad line sits past the first decoding chunk
    lines = path.read_bytes().split(b"\r\n")
    lines[2000] = "坏行".encode("gbk") + b"\xff\xfe," + b"return_goods"  # 0xFF is never valid GBK
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(DataFormatError, match="line 2001"):
        _read(path, encoding="gbk")


@pytest.mark.parametrize("name,content", [
    ("empty.csv", b""), ("empty.jsonl", b""), ("bom.csv", b"\xef\xbb\xbf"), ("bom.jsonl", b"\xef\xbb\xbf\r\n"),
    ("header.csv", "text,label\r\n".encode("gbk")), ("blank.jsonl", b"\r\n  \r\n\r\n"),
    ("blank.csv", "文本,标签\r\n,\r\n\r\n".encode("gbk")),
])
def test_empty_files(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=rf"{name}: (no records found|all 1 records are bad)"):
        _read(path, skip_bad_lines=True)
    rc, out, err = run_cli(["train", "--data", str(path), "--out", str(tmp_path / "m")])
    assert rc == 1 and out == ""
    assert err.count("\n") == 1 and name in err, err


def test_label_column_missing(tmp_path, gbk_rows):
    path = _excel_csv(tmp_path / "export.csv", gbk_rows, header=("文本", "备注"))
    with pytest.raises(DataFormatError, match=r"no label column among \['文本', '备注'\]: name it 'label'"):
        _read(path)
    rc, out, err = run_cli(["train", "--data", str(path), "--out", str(tmp_path / "m"), "--encoding", "gbk",
                            "--skip-bad-lines"])
    assert rc == 1 and "no label column" in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def fast_config(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("config") / "config.json"
    path.write_text(json.dumps({"calibration_folds": 0}), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("encoding_args", [["--encoding", "gbk"], []], ids=["gbk", "detected"])
def test_cli_train_on_an_excel_export_with_bad_lines(tmp_path, gbk_rows, fast_config, encoding_args):
    broken = {9: "我要退货,return_goods,多余", 25: "只有一列"}
    path = _excel_csv(tmp_path / "客服导出.csv", gbk_rows, bad=broken)
    out_dir = tmp_path / "model"
    rc, out, err = run_cli(["train", "--data", str(path), "--out", str(out_dir), "--config", fast_config,
                            *encoding_args])
    assert rc == 1 and "line 9" in err and not out_dir.exists()

    rc, out, err = run_cli(["train", "--data", str(path), "--out", str(out_dir), "--config", fast_config,
                            *encoding_args, "--skip-bad-lines"])
    assert rc == 0, err
    summary = json_lines(out)[-1]
    assert summary["training"]["n_texts"] == len(gbk_rows)
    assert summary["training"]["bad_lines_skipped"] == len(broken)
    assert summary["training"]["n_texts"] + summary["training"]["bad_lines_skipped"] == len(gbk_rows) + len(broken)
    assert "skipped 2 bad line(s)" in err and "line 9" in err
    assert csnlp.read_manifest(out_dir)["metadata"]["training"]["n_texts"] == len(gbk_rows)


def test_cli_predict_reads_a_gbk_crlf_input_file(tmp_path, fitted_clf):
    model = csnlp.save(fitted_clf, tmp_path / "m")
    messages = ["我要退货", "快递到哪了", "發票還沒收到", "怎么开发票"] * 5
    path = tmp_path / "messages.txt"
    path.write_bytes(("\r\n".join(messages) + "\r\n").encode("gbk"))
    rc, out, err = run_cli(["predict", "--model", str(model), "--input", str(path), "--encoding", "gbk"])
    assert rc == 0, err
    assert [row["text"] for row in json_lines(out)] == messages


# =====================================================================================================================
# 3. Concurrency
# =====================================================================================================================
def _messages(intent_texts, long: bool = True) -> list[str]:
    extra = ["", "   ", "😂😂😂", "[微笑]", "转人工", "我要打12315投诉你们", "垃圾客服", "订单2024061512345678还没发货",
             "电话13812345678", "退货运费谁出", "发票抬头怎么改", "今天天气怎么样", "ＡＰＰ打不開了！！！",
             "快递太慢了，屏幕还有坏点，退款也不处理", "\u202e订单\u202c", "<script>alert(1)</script>"]
    return list(intent_texts) + extra + (["我要退货" * 600] if long else [])


def _contexts() -> list[dict | None]:
    return [None, {"channel": "sms"}, {"tier": "vip"}, {"failures": 2}, {"previous": [{"action": "clarify"}]},
            {"channel": "wechat", "tier": "svip", "failures": 0}]


def _race(shared: Router, calls, expected, n_threads: int) -> None:
    """``n_threads`` threads route all ``calls`` on ``shared`` at once; each must get exactly ``expected``."""
    results: list[list | None] = [None] * n_threads
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)

    def work(k: int) -> None:
        try:
            offset = k * len(calls) // n_threads  # each thread starts elsewhere in the list
            order = calls[offset:] + calls[:offset]
            barrier.wait()
            results[k] = [shared.route(t, c) for t, c in order]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    for k, got in enumerate(results):
        offset = k * len(calls) // n_threads
        want = expected[offset:] + expected[:offset]
        mismatches = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
        assert len(got) == len(want) and not mismatches, (
            f"thread {k}: {len(mismatches)} decisions differ from the serial run, e.g. {got[mismatches[0]]!r} "
            f"!= {want[mismatches[0]]!r}")


def _calls(intent_texts, n: int, seed: int, long: bool = True) -> list[tuple[str, dict | None]]:
    rng = random.Random(seed)
    texts, contexts = _messages(intent_texts, long), _contexts()
    return [(rng.choice(texts), rng.choice(contexts)) for _ in range(n)]


@pytest.mark.slow
def test_one_router_shared_by_eight_threads(fitted_clf, intent_texts, tmp_path):
    # 8 threads x 5,000 calls on one Router of the session's (cheap) classifier; the shared router is a cold copy
    # (save + load), so its lazy parts (phrase matchers, jieba dictionary, scoring cache) are built while the
    # threads race for them
    calls = _calls(intent_texts, 5000, seed=7, long=False)  # long messages: in the test below
    expected = [Router(fitted_clf).route(t, c) for t, c in calls]
    shared = csnlp.load(csnlp.save(Router(fitted_clf), tmp_path / "router"))
    _race(shared, calls, expected, n_threads=8)


def test_full_router_shared_by_threads(fitted_clf, tagger, intent_texts, tmp_path):
    # the same with a knowledge base (lazily fitted FAQ matcher), replies and a feedback tagger, on fewer calls
    calls = _calls(intent_texts, 400, seed=8)
    expected = [make_router(fitted_clf, tagger).route(t, c) for t, c in calls]
    shared = csnlp.load(csnlp.save(make_router(fitted_clf, tagger), tmp_path / "router"))
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that races show
    try:
        _race(shared, calls, expected, n_threads=4)
    finally:
        sys.setswitchinterval(old)


_WORDS_A = ["退货宝", "极速退"]
_WORDS_B = ["货宝贝", "速退款"]
_PROBES = ["退货宝贝极速退款", "我用了退货宝，极速退款到账了吗", "货宝贝速退款怎么办", "运费险怎么赔"]


def _fresh_process_tokens(words: list[str], bundle: Path) -> subprocess.Popen:
    """Start a brand-new interpreter that tokenises the probes with ``words`` and prints, as JSON, the tokens,
    jieba's global tokens and the word features ``bundle`` gives them; read it with :func:`_result`."""
    code = f"""
import json, csnlp, jieba
from csnlp import JiebaTokenizer
tok = JiebaTokenizer(user_words={words!r})
out = {{"tokens": [tok.tokenize(p) for p in {_PROBES!r}], "global": [jieba.lcut(p) for p in {_PROBES!r}]}}
clf = csnlp.load({str(bundle)!r})
names = clf.features_.get_feature_names_out()
X = clf.features_.transform({_PROBES!r})
out["features"] = [sorted(n for n in names[X[i].indices] if n.startswith("word:")) for i in range(X.shape[0])]
print(json.dumps(out, ensure_ascii=False))
"""
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", env=os.environ.copy())


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_user_words_never_leak_between_classifiers(intent_texts, intent_labels, tmp_path):
    import jieba

    extra = ["我用了退货宝想退款", "极速退多久到账", "货宝贝怎么退", "速退款申请"]
    X, y = list(intent_texts) + extra, list(intent_labels) + ["refund"] * len(extra)
    clf_a = IntentClassifier(user_words=_WORDS_A, calibration_folds=0).fit(X, y)
    clf_b = IntentClassifier(user_words=_WORDS_B, calibration_folds=0).fit(X, y)
    # use both at the same time from several threads: shared dictionaries must stay apart
    errors = []

    def use(clf):
        try:
            for _ in range(50):
                clf.predict(_PROBES)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=use, args=(c,)) for c in (clf_a, clf_b) * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    models = ((clf_a, _WORDS_A), (clf_b, _WORDS_B))
    procs = [_fresh_process_tokens(words, csnlp.save(clf, tmp_path / "_".join(words))) for clf, words in models]
    fresh = [_result(p) for p in procs]
    for (clf, words), reference in zip(models, fresh):
        assert [JiebaTokenizer(user_words=words).tokenize(p) for p in _PROBES] == reference["tokens"]
        names = clf.features_.get_feature_names_out()
        A = clf.features_.transform(_PROBES)
        here = [sorted(n for n in names[A[i].indices] if n.startswith("word:")) for i in range(A.shape[0])]
        assert here == reference["features"], f"word features of the {words} model differ from a fresh process"
        assert all(f"word:{w}" in set(names) for w in words)
    # the two dictionaries really cut differently (else this test proves nothing), and neither touched jieba's
    # global tokenizer
    assert fresh[0]["tokens"] != fresh[1]["tokens"]
    assert [jieba.lcut(p) for p in _PROBES] == fresh[0]["global"] == fresh[1]["global"]


# =====================================================================================================================
# 4. Crash safety and tampered bundles
# =====================================================================================================================
PROBE = ["我要退货", "退款还没到账", "快递到哪里了", "帮我开个发票", "", "电话13812345678", "优惠券怎么用"]


@pytest.fixture(scope="module")
def other_clf(intent_texts, intent_labels) -> IntentClassifier:
    """A second, different model: the 'new' one written over the session classifier."""
    keep = [(t, l) for t, l in zip(intent_texts, intent_labels) if l in ("refund", "shipping", "invoice")]
    return IntentClassifier(calibration_folds=0).fit([t for t, _ in keep], [l for _, l in keep])


def _save_forever(models, path: Path) -> None:
    i = 0
    while True:
        csnlp.save(models[i % 2], path, overwrite=True)
        i += 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("name", ["model", "model.zip"])
def test_killed_save_leaves_the_old_or_the_new_bundle(fitted_clf, other_clf, tmp_path, name):
    old_proba, new_proba = fitted_clf.predict_proba(PROBE), other_clf.predict_proba(PROBE)
    path = csnlp.save(fitted_clf, tmp_path / name)
    start = time.perf_counter()
    csnlp.save(fitted_clf, path, overwrite=True)
    one_save = time.perf_counter() - start  # kills spread over ~4 saves, however fast this machine is today
    rng = random.Random(2024)
    seen = {"old": 0, "new": 0}
    for _ in range(20):
        # leftovers of earlier kills stay in place: recovery must verify them and the next save remove them
        pid = os.fork()  # a child process that saves in a loop (forked: no interpreter start-up per kill)
        if pid == 0:
            try:
                _save_forever([other_clf, fitted_clf], path)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 4 * one_save + 0.01))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        model = csnlp.load(path)  # never an error, never a broken bundle
        proba = model.predict_proba(PROBE)
        if proba.shape == old_proba.shape and np.array_equal(proba, old_proba):
            seen["old"] += 1
        else:
            np.testing.assert_array_equal(proba, new_proba)
            seen["new"] += 1
    assert seen["old"] and seen["new"], seen  # the kills landed at different points of the loop
    csnlp.save(fitted_clf, path, overwrite=True)  # the next save removes whatever the killed ones left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_recovery_after_two_crashes_picks_a_complete_bundle(fitted_clf, other_clf, tmp_path):
    path = csnlp.save(fitted_clf, tmp_path / "model")
    new_members = _dir_members(csnlp.save(other_clf, tmp_path / "staging"))
    # crash 1: killed while writing the manifest, the last member of a new bundle
    stale = tmp_path / ".model.new-00000000"
    stale.mkdir()
    for member, data in new_members.items():
        (stale / member).write_bytes(b"" if member == "manifest.json" else data)
    # crash 2: the next save was killed between its two renames: old bundle moved aside, new one complete
    (tmp_path / "staging").rename(tmp_path / ".model.new-ffffffff")
    path.rename(tmp_path / ".model.old-ffffffff")
    proba = csnlp.load(tmp_path / "model").predict_proba(PROBE)
    assert any(np.array_equal(proba, m.predict_proba(PROBE)) for m in (fitted_clf, other_clf))


@pytest.mark.parametrize("name,leftover", [("model", ".model.new-deadbeef"), ("model.zip", ".model.zip.tmp-deadbeef")])
def test_leftovers_of_a_killed_save_are_cleaned_up(fitted_clf, tmp_path, name, leftover):
    path = csnlp.save(fitted_clf, tmp_path / name)
    junk = tmp_path / leftover
    if name == "model":
        junk.mkdir()
        (junk / "model.json").write_bytes(b'{"state": ')  # killed while writing the first member
    else:
        junk.write_bytes(b"PK\x03\x04")
    csnlp.save(fitted_clf, path, overwrite=True)
    csnlp.load(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


# -- truncated and edited bundles ---------------------------------------------------------------------------------------
MEMBERS = ("manifest.json", "model.json", "arrays.npz")


def _dir_members(bundle: Path) -> dict[str, bytes]:
    return {name: (bundle / name).read_bytes() for name in MEMBERS}


def _write_dir(path: Path, members: dict[str, bytes]) -> Path:
    path.mkdir()
    for name, data in members.items():
        (path / name).write_bytes(data)
    return path


def _write_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _with_checksums(members: dict[str, bytes]) -> dict[str, bytes]:
    """Recompute the manifest's checksums, so that only the rules after the checksum check protect."""
    manifest = json.loads(members["manifest.json"])
    manifest["files"] = {name: _sha256(members[name]) for name in MEMBERS[1:] if name in members}
    return members | {"manifest.json": json.dumps(manifest, ensure_ascii=False).encode("utf-8")}


def _npz(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _arrays(members) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(members["arrays.npz"])) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.fixture(scope="module")
def members(fitted_clf, tmp_path_factory) -> dict[str, bytes]:
    return _dir_members(csnlp.save(fitted_clf, tmp_path_factory.mktemp("bundle") / "m"))


@pytest.mark.parametrize("member", MEMBERS)
@pytest.mark.parametrize("keep", [0.0, 0.01, 0.5, 0.99, -1], ids=["empty", "1pct", "half", "99pct", "minus1byte"])
@pytest.mark.parametrize("form", ["dir", "zip"])
def test_truncated_member_is_refused(members, tmp_path, member, keep, form):
    data = members[member]
    cut = len(data) - 1 if keep == -1 else int(len(data) * keep)
    damaged = members | {member: data[:cut]}
    path = _write_dir(tmp_path / "m", damaged) if form == "dir" else _write_zip(tmp_path / "m.zip", damaged)
    with pytest.raises(IntegrityError, match="manifest.json|does not match its sha256|not a csnlp bundle"):
        csnlp.load(path)


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.9, -1], ids=["empty", "30pct", "90pct", "minus1byte"])
def test_truncated_zip_file_is_refused(fitted_clf, tmp_path, keep):
    path = csnlp.save(fitted_clf, tmp_path / "m.zip")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1 if keep == -1 else int(len(data) * keep)])
    with pytest.raises(IntegrityError):
        csnlp.load(path)


def _edit_manifest(**changes):
    def edit(members):
        manifest = json.loads(members["manifest.json"])
        for key, value in changes.items():
            if value is _DELETE:
                manifest.pop(key, None)
            elif callable(value):
                manifest[key] = value(manifest[key])
            else:
                manifest[key] = value
        return members | {"manifest.json": json.dumps(manifest).encode("utf-8")}

    return edit


_DELETE = object()


def _edit_state(func):
    def edit(members):
        model = json.loads(members["model.json"])
        func(model["state"])
        return _with_checksums(members | {"model.json": json.dumps(model, ensure_ascii=False).encode("utf-8")})

    return edit


def _edit_arrays(func):
    def edit(members):
        arrays = _arrays(members)
        func(arrays)
        return _with_checksums(members | {"arrays.npz": _npz(arrays)})

    return edit


EDITS = [
    pytest.param(_edit_manifest(format_version=2), id="newer-format"),
    pytest.param(_edit_manifest(files=_DELETE), id="no-checksums"),
    pytest.param(_edit_manifest(kind="time_machine"), id="unknown-kind"),
    pytest.param(_edit_manifest(format="other"), id="other-format"),
    pytest.param(lambda m: m | {"manifest.json": b"\xff\xfe{}"}, id="manifest-not-utf8"),
    pytest.param(lambda m: m | {"manifest.json": b"[]"}, id="manifest-a-list"),
    pytest.param(_edit_manifest(files=lambda f: {**f, "model.json": "0" * 64}), id="wrong-checksum"),
    pytest.param(_edit_state(lambda s: s.__setitem__("classes", s["classes"][:2])), id="fewer-classes"),
    pytest.param(lambda m: m | {"manifest.json": ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()},
                 id="deeply-nested-manifest"),
    pytest.param(_edit_manifest(versions=5), id="versions-not-a-mapping"),
    pytest.param(_edit_manifest(params=lambda p: {k: v for k, v in p.items() if k != "word_ngram_range"}),
                 id="params-missing-a-key"),
    pytest.param(_edit_manifest(params=None), id="params-null"),
    pytest.param(_edit_manifest(params=lambda p: p | {"max_length": "x"}), id="params-wrong-type"),
    pytest.param(_edit_manifest(kind="router"), id="kind-router-on-a-classifier"),
    pytest.param(_edit_manifest(kind="feedback_tagger"), id="kind-tagger-on-a-classifier"),
    pytest.param(_edit_state(lambda s: s.pop("vocabulary")), id="state-missing-vocabulary"),
    pytest.param(_edit_arrays(lambda a: a.pop("coef_0")), id="array-missing"),
    pytest.param(_edit_arrays(lambda a: a.__setitem__("word_idf", a["word_idf"][:3])), id="array-too-short"),
    pytest.param(_edit_arrays(lambda a: a.__setitem__("coef_0", a["coef_0"][:, :5])), id="array-wrong-shape"),
]


@pytest.mark.parametrize("edit", EDITS)
@pytest.mark.parametrize("form", ["dir", "zip"])
def test_edited_bundle_is_refused_with_integrity_error(members, tmp_path, edit, form):
    damaged = edit(dict(members))
    path = _write_dir(tmp_path / "m", damaged) if form == "dir" else _write_zip(tmp_path / "m.zip", damaged)
    with pytest.raises((IntegrityError, IncompatibleModelError)):
        model = csnlp.load(path)
        model.predict_proba(PROBE)  # a bundle that loads must also work


def _zip_with_patched_entry(members, patch) -> bytes:
    """A zip bundle whose model.json entry is patched by ``patch(data, local_offset, central_offset, info)``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    data = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("model.json")
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(info.filename)] != info.filename.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    patch(data, info.header_offset, central, info)
    return bytes(data)


def _unknown_method(data, local, central, info):
    for offset in (local + 8, central + 10):
        data[offset : offset + 2] = (99).to_bytes(2, "little")


def _encrypted_flag(data, local, central, info):
    for offset in (local + 6, central + 8):
        data[offset] |= 0x01


def _corrupt_deflate(data, local, central, info):
    start = local + 30 + len(info.filename) + len(info.extra)
    data[start : start + 8] = b"\xff" * 8


@pytest.mark.parametrize("patch", [_unknown_method, _encrypted_flag, _corrupt_deflate],
                         ids=["compression-method", "encrypted-flag", "deflate-stream"])
def test_damaged_zip_container_is_refused(members, tmp_path, patch):
    path = tmp_path / "m.zip"
    path.write_bytes(_zip_with_patched_entry(members, patch))
    with pytest.raises(IntegrityError):
        csnlp.load(path)


# -- no pickle on load -----------------------------------------------------------------------------------------------------
class _Payload:
    """Unpickling this object creates the marker file (a stand-in for arbitrary code)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_array(marker: Path) -> np.ndarray:
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(str(marker))
    return evil


def _plant(members, marker: Path, how: str) -> dict[str, bytes]:
    arrays = _arrays(members)
    if how == "raw-pickle":  # arrays.npz is a pickle stream, not a zip of .npy files
        payload = pickle.dumps({"coef_0": _Payload(str(marker))})
        return _with_checksums(members | {"arrays.npz": payload})
    if how == "structured-dtype":  # an object field inside a structured array is pickled too
        rec = np.empty(1, dtype=[("w", "f8"), ("o", "O")])
        rec[0] = (1.0, _Payload(str(marker)))
        first = next(iter(arrays))
        arrays[first] = rec
    elif how == "every-array":
        arrays = {name: _evil_array(marker) for name in arrays}
    else:  # a nested component's array (router bundles: "classifier/coef_0", "tagger/...")
        nested = [name for name in arrays if "/" in name]
        arrays[nested[0] if nested else "evil"] = _evil_array(marker)
    return _with_checksums(members | {"arrays.npz": _npz(arrays)})


@pytest.mark.parametrize("how", ["raw-pickle", "structured-dtype", "every-array", "nested"])
@pytest.mark.parametrize("kind", ["router", "tagger"])
@pytest.mark.parametrize("form", ["dir", "zip"])
def test_pickle_payload_in_router_and_tagger_bundles_never_runs(router, tagger, tmp_path, how, kind, form):
    model = router if kind == "router" else tagger
    members = _dir_members(csnlp.save(model, tmp_path / "clean"))
    marker = tmp_path / "pwned"
    evil = _plant(members, marker, how)
    path = _write_dir(tmp_path / "m", evil) if form == "dir" else _write_zip(tmp_path / "m.zip", evil)
    csnlp.read_manifest(path)  # the checksums agree: only the no-pickle rule stands in the way
    assert not marker.exists()
    with pytest.raises(IntegrityError, match="model data cannot be read"):
        csnlp.load(path)
    assert not marker.exists()


def test_planted_payloads_really_run_when_unpickled(tmp_path):
    # guards the test above: each planted form does create the marker when pickle is allowed
    marker = tmp_path / "pwned"
    handle = pickle.loads(pickle.dumps(_Payload(str(marker))))
    handle.close()
    assert marker.exists()
    marker.unlink()
    rec = np.empty(1, dtype=[("w", "f8"), ("o", "O")])
    rec[0] = (1.0, _Payload(str(marker)))
    with np.load(io.BytesIO(_npz({"a": rec})), allow_pickle=True) as npz:
        npz["a"][0][1].close()
    assert marker.exists()


# =====================================================================================================================
# 5. Private data
# =====================================================================================================================
def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body + "0")):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _digits(n: int):
    return st.text("0123456789", min_size=n, max_size=n)


_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

mobile = st.builds(
    lambda cc, second, rest, style: cc + (
        f"1{second}{rest}" if style == 0 else f"1{second}{rest[0]} {rest[1:5]} {rest[5:]}" if style == 1
        else f"1{second}{rest[0]}-{rest[1:5]}-{rest[5:]}"),
    st.sampled_from(["", "", "+86", "+86 ", "86-"]), st.sampled_from("3456789"), _digits(9), st.integers(0, 2),
)
id_card = st.builds(
    lambda region, day, seq, check: f"{region}{day:%Y%m%d}{seq}{check}",
    st.builds(lambda a, b: a + b, st.sampled_from("123456789"), _digits(5)),
    st.dates(date(1930, 1, 1), date(2024, 12, 31)), _digits(3), st.sampled_from("0123456789Xx"),
)
bank_card = st.builds(
    lambda first, body, grouped: (lambda card: " ".join(card[i : i + 4] for i in range(0, len(card), 4))
                                  if grouped else card)(_luhn_complete(first + body)),
    st.sampled_from("3456"), st.integers(14, 17).flatmap(_digits), st.booleans(),
)
email = st.builds(
    lambda local, sep, tail, domain, tld: f"{local}{sep}{tail}@{domain}{tld}",
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10), st.sampled_from(["", ".", "_", "-", "+"]),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8),
    st.sampled_from([".com", ".cn", ".com.cn", ".net", ".edu.cn"]),
)
pii = st.one_of(
    st.tuples(st.just("phone"), mobile), st.tuples(st.just("id_card"), id_card),
    st.tuples(st.just("bank_card"), bank_card), st.tuples(st.just("email"), email),
    st.tuples(st.just("phone"), mobile.map(lambda v: v.translate(_FULL_WIDTH))),
    st.tuples(st.just("email"), email.map(str.upper)),
)
TEMPLATES = [
    "我的手机号是{}，麻烦回电", "收件人电话要改成{}", "身份证号{}实名认证不了", "银行卡{}的退款什么时候到账",
    "邮箱{}收不到验证码", "{}", "联系方式：{}，快递到哪了？", "我要退货，卡号{}，订单2024061512345678",
    "投诉！！{}这是我电话", "帮我查下{}绑定的订单", "發票寄到{}", "转人工 {}",
]
sentence = st.tuples(pii, st.sampled_from(TEMPLATES)).map(lambda p: (p[0][0], p[0][1], p[1].format(p[0][1])))


def _private_forms(value: str) -> list[str]:
    """How ``value`` could show up: as written, normalised, and (for numbers) as its bare digits."""
    forms = {value, csnlp.normalize(value), value.lower()}
    digits = "".join(c for c in csnlp.normalize(value) if c.isdigit())
    if len(digits) >= 7:
        forms.add(digits)
    return [f for f in forms if f]


def _assert_absent(value: str, where: str, haystack: str) -> None:
    flat_digits = "".join(c for c in haystack if c.isdigit())
    for form in _private_forms(value):
        assert form not in haystack, f"{value!r} appears in {where}: {haystack[:300]!r}"
        if form.isdigit():
            assert form not in flat_digits, f"the digits of {value!r} appear in {where}: {haystack[:300]!r}"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        parts = []
        for r in self.records:
            parts.append(r.getMessage())
            if r.exc_info:
                parts.append(logging.Formatter().formatException(r.exc_info))
        return "\n".join(parts)


@contextlib.contextmanager
def capture_csnlp_logs(level=logging.DEBUG):
    """Like caplog at ``level`` on logger "csnlp", usable inside hypothesis tests."""
    handler = _Collect()
    logger = logging.getLogger("csnlp")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sentence, st.sampled_from([None, {"channel": "sms"}, {"tier": "vip", "failures": 1}]))
def test_private_data_never_reaches_masked_text_dicts_or_logs(router, fitted_clf, tagger, case, ctx):
    kind, value, text = case
    with capture_csnlp_logs() as logs:
        decision = router.route(text, ctx)
        batch = router.route_many([text, "我要退货"], [ctx, None])
        fitted_clf.predictions([text])
        tagger.tag([text])
    assert decision.entities, f"nothing masked in {text!r}"  # ({kind}; an ID-card-like card may count as either)
    for d in (decision, batch[0]):
        _assert_absent(value, "Decision.masked_text", d.masked_text)
        _assert_absent(value, "Decision.to_dict(include_entity_values=False)",
                       json.dumps(d.to_dict(include_entity_values=False), ensure_ascii=False))
    _assert_absent(value, "the csnlp log records", logs.text())


PHONE_REPLIES = REPLIES | {
    "change_address": {"reply": "未发货可改地址[，新的联系电话{phone}已记录]。", "sms": "未发货可改地址"},
}


def test_to_dict_without_entity_values_has_no_private_data_in_the_reply(fitted_clf, tagger):
    router = make_router(fitted_clf, tagger, replies=PHONE_REPLIES)
    decision = router.route("收件人电话要改成13812345678")
    assert decision.intent == "change_address" and decision.action == "answer"
    _assert_absent("13812345678", "to_dict(include_entity_values=False)",
                   json.dumps(decision.to_dict(include_entity_values=False), ensure_ascii=False))


PII_LINES = ["我的手机号是13812345678，麻烦回电", "身份证号110101199003074578实名认证不了",
             "银行卡6222021234567890128的退款什么时候到账", "邮箱zhang.san@qq.com收不到验证码",
             "收件人电话要改成+86 139 8765 4321"]
PII_VALUES = ["13812345678", "110101199003074578", "6222021234567890128", "zhang.san@qq.com", "+86 139 8765 4321"]


@pytest.fixture(scope="module")
def pii_router_bundle(fitted_clf, tagger, tmp_path_factory) -> str:
    return str(csnlp.save(make_router(fitted_clf, tagger, replies=PHONE_REPLIES), tmp_path_factory.mktemp("r") / "r"))


@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_cli_route_verbose_logs_have_no_private_data(pii_router_bundle, verbosity):
    rc, out, err = run_cli([verbosity, "route", "--model", pii_router_bundle], "\n".join(PII_LINES).encode("utf-8"))
    assert rc == 0 and len(json_lines(out)) == len(PII_LINES), err
    for value in PII_VALUES:
        _assert_absent(value, f"the stderr of `csnlp {verbosity} route`", err)


def test_cli_route_output_has_no_private_data(pii_router_bundle):
    rc, out, err = run_cli(["-v", "route", "--model", pii_router_bundle], "\n".join(PII_LINES).encode("utf-8"))
    assert rc == 0
    for value in PII_VALUES:
        _assert_absent(value, "the stdout of `csnlp -v route`", out)


def test_message_text_is_not_logged_at_info(router, fitted_clf, tagger, tmp_path, caplog, intent_texts, intent_labels):
    secret = "独一无二的消息文本ZQX7"
    with caplog.at_level(logging.INFO, logger="csnlp"):
        router.route(secret + "我要退货")
        router.route_many([secret, secret + "快递太慢,屏幕有坏点,我要投诉"])
        fitted_clf.predict_one(secret)
        tagger.tag([secret + "电池鼓包了"])
        path = tmp_path / "train.jsonl"
        rows = list(zip(intent_texts, intent_labels)) + [(secret, "refund"), (secret + "2", "refund")]
        path.write_text("".join(json.dumps({"text": t, "label": l}, ensure_ascii=False) + "\n" for t, l in rows),
                        encoding="utf-8")
        rc, out, err = run_cli(["-v", "train", "--data", str(path), "--out", str(tmp_path / "m")])
        assert rc == 0, err
        rc, out, err = run_cli(["-v", "route", "--model", str(tmp_path / "m")], (secret + "\n").encode("utf-8"))
        assert rc == 0, err
    assert caplog.records, "nothing was logged at INFO: the check below would be empty"
    leaking = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO and secret in r.getMessage()]
    assert not leaking, leaking
    assert secret not in err


# =====================================================================================================================
# 6. Streaming: order and count survive a large input (the full-size measurement is benchmarks/memory.py)
# =====================================================================================================================
def _short_messages() -> list[str]:
    data = resources.files("csnlp._data").joinpath("intents", "test.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in data.splitlines() if line.strip()]
    return [t for t in texts if len(t) <= 30]


def _stream_input(path: Path, n: int, with_ts: bool = False) -> Path:
    rng = random.Random(0)
    texts = _short_messages()
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            row = {"id": i, "text": rng.choice(texts)}
            if with_ts:
                row["ts"] = f"2026-10-{1 + i * 28 // n:02d}T{i % 24:02d}:00:00"
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("command", ["predict", "route", "tag"])
def test_stream_commands_keep_order_and_count(router, tmp_path, command):
    n = 5000
    source = _stream_input(tmp_path / "in.jsonl", n)
    model = csnlp.save(router, tmp_path / "router")
    done = subprocess.run([sys.executable, "-m", "csnlp.cli", command, "--model", str(model), "--input", str(source)],
                          capture_output=True, timeout=300, env=os.environ.copy())
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    rows = [json.loads(line) for line in done.stdout.decode("utf-8").split("\n") if line]
    assert len(rows) == n
    assert [row.get("id") for row in rows] == list(range(n))


@pytest.mark.slow
def test_report_reads_every_line(router, tmp_path):
    n = 5000
    source = _stream_input(tmp_path / "logs.jsonl", n, with_ts=True)
    model = csnlp.save(router, tmp_path / "router")
    done = subprocess.run([sys.executable, "-m", "csnlp.cli", "report", "--logs", str(source), "--out",
                           str(tmp_path / "report"), "--model", str(model)],
                          capture_output=True, timeout=300, env=os.environ.copy())
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    summary = json.loads(done.stdout.decode("utf-8").strip().split("\n")[-1])
    assert summary["lines"] == n and summary["analysed"] == n and not summary["bad_lines"]
