"""The csnlp command line: csnlp.cli.main in-process, and the installed console script in a subprocess."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import csnlp
from csnlp.cli import build_parser, main

CORE_COMMANDS = ("train", "evaluate", "predict")


@pytest.fixture(autouse=True)
def _restore_csnlp_logging():
    """main() configures the 'csnlp' logger for the CLI; undo that so other tests see the library defaults."""
    logger = logging.getLogger("csnlp")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture
def model_dir(fitted_clf, tmp_path):
    return csnlp.save(fitted_clf, tmp_path / "model")


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _assert_one_line_error(err: str, command: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"csnlp {command}: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], err
    assert "Traceback" not in err


def _subcommands() -> list[str]:
    parser = build_parser()
    for action in parser._actions:  # argparse has no public accessor for sub-parsers
        if action.choices and isinstance(action.choices, dict):
            return sorted(action.choices)
    return []


# -- train -> evaluate -> predict ----------------------------------------------------------------------------------------------
def test_train_evaluate_predict(corpus_jsonl, heldout_jsonl, heldout, tmp_path, capsys):
    out = tmp_path / "bundle"
    assert main(["train", "--data", str(corpus_jsonl), "--out", str(out), "--dev", str(heldout_jsonl)]) == 0
    captured = capsys.readouterr()
    (summary,) = _json_lines(captured.out)
    assert summary["model"] == str(out)
    assert summary["labels"] == 8
    assert len(summary["training_data_sha256"]) == 64
    assert summary["metrics"]["n"] == len(heldout)
    assert csnlp.read_manifest(out)["labels"] == sorted({label for _, label in heldout})

    report_path = tmp_path / "reports" / "report.json"
    assert main(["evaluate", "--model", str(out), "--data", str(heldout_jsonl), "--report", str(report_path)]) == 0
    captured = capsys.readouterr()
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["n"] == len(heldout)
    assert 0.75 <= report["accuracy"] <= 1
    assert 0 <= report["macro_f1"] <= 1
    assert set(report["per_label"]) == {label for _, label in heldout}
    for metrics in report["per_label"].values():
        assert set(metrics) >= {"precision", "recall", "f1", "support"}
    assert sum(m["support"] for m in report["per_label"].values()) == len(heldout)
    (line,) = _json_lines(captured.out)
    assert line["accuracy"] == report["accuracy"] and line["n"] == len(heldout)
    assert "accuracy" in captured.err  # the readable table goes to stderr

    texts = ["我要退货", "快递到哪里了", "帮我开个发票"]
    assert main(["predict", "--model", str(out), *texts]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert [r["text"] for r in rows] == texts
    assert [r["intent"] for r in rows] == ["return_goods", "shipping", "invoice"]
    for r in rows:
        assert 0 < r["confidence"] <= 1
        assert len(r["top"]) == 3
        assert r["top"][0] == {"intent": r["intent"], "score": r["confidence"]}


def test_predict_reads_plain_lines_from_stdin(model_dir, heldout, monkeypatch, capsys):
    texts = [t for t, _ in heldout]
    stdin = "\n".join(texts[:5]) + "\n\n   \n" + "\n".join(texts[5:]) + "\n"  # blank lines are skipped
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(["predict", "--model", str(model_dir), "--top", "1"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert [r["text"] for r in rows] == texts
    assert all(len(r["top"]) == 1 for r in rows)
    correct = sum(r["intent"] == label for r, (_, label) in zip(rows, heldout))
    assert correct >= 13


def test_predict_reads_jsonl_from_stdin_in_order(model_dir, monkeypatch, capsys):
    records = [{"id": i, "text": t} for i, t in enumerate(["我要退货", "快递到哪里了", "我要投诉你们", "有优惠券吗"] * 3)]
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    # a tiny batch size makes sure order survives batching
    assert main(["predict", "--model", str(model_dir), "--batch-size", "5"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert [(r["id"], r["text"]) for r in rows] == [(r["id"], r["text"]) for r in records]
    assert [r["intent"] for r in rows[:4]] == ["return_goods", "shipping", "complaint", "coupon"]


def test_predict_reads_an_input_file(model_dir, tmp_path, capsys):
    path = tmp_path / "msgs.txt"
    path.write_text("我要退货\r\n快递到哪里了\r\n", encoding="utf-8-sig")
    assert main(["predict", "--model", str(model_dir), "--input", str(path)]) == 0
    assert [r["text"] for r in _json_lines(capsys.readouterr().out)] == ["我要退货", "快递到哪里了"]


def test_predict_input_file_in_the_wrong_encoding(model_dir, tmp_path, capsys):
    path = tmp_path / "msgs.txt"
    path.write_bytes("我要退货\n".encode("gbk"))
    assert main(["predict", "--model", str(model_dir), "--input", str(path)]) == 1
    _assert_one_line_error(capsys.readouterr().err, "predict", "decode")
    assert main(["predict", "--model", str(model_dir), "--input", str(path), "--encoding", "gbk"]) == 0
    assert [r["intent"] for r in _json_lines(capsys.readouterr().out)] == ["return_goods"]


def test_predict_undecodable_stdin_is_an_error(model_dir, tmp_path):
    # In the C/POSIX locale Python opens stdin with errors='surrogateescape'
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8")}
    env.update(LC_ALL="C", LANG="C")
    result = subprocess.run(
        _console_script() + ["predict", "--model", str(model_dir)],
        input="我要退货\n".encode("gbk"),
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, result.stdout.decode("utf-8", "replace")
    assert result.stdout == b""
    _assert_one_line_error(err, "predict", "decode")


def test_predict_marks_truncated_messages(model_dir, capsys):
    assert main(["predict", "--model", str(model_dir), "退货" * 5000, "退货"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert rows[0]["truncated"] is True
    assert "truncated" not in rows[1]


def test_predict_bad_jsonl_line(model_dir, monkeypatch, capsys):
    stdin = '{"text": "我要退货"}\n{"text": broken\n{"text": "快递到哪里了"}\n'
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(["predict", "--model", str(model_dir)]) == 1
    _assert_one_line_error(capsys.readouterr().err, "predict", "<stdin> line 2", "not valid JSON")


def test_predict_skip_bad_lines_reports_them(model_dir, monkeypatch, capsys):
    stdin = '{"text": "我要退货"}\n{"text": broken\n{"text": "快递到哪里了"}\n'
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(["predict", "--model", str(model_dir), "--skip-bad-lines"]) == 0
    captured = capsys.readouterr()
    rows = _json_lines(captured.out)
    assert len(rows) == 3
    errors = [r for r in rows if "error" in r]
    assert [r["line"] for r in errors] == [2] and "not valid JSON" in errors[0]["error"]
    assert [r["text"] for r in rows if "text" in r] == ["我要退货", "快递到哪里了"]
    assert "line 2" in captured.err


def test_predict_skip_bad_lines_keeps_input_order(model_dir, monkeypatch, capsys):
    stdin = '{"text": "我要退货"}\n{"text": broken\n{"text": "快递到哪里了"}\n'
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(["predict", "--model", str(model_dir), "--skip-bad-lines"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert [r.get("text", r.get("line")) for r in rows] == ["我要退货", 2, "快递到哪里了"]


def test_train_from_gbk_csv_with_and_without_encoding(corpus, tmp_path, write_csv, capsys):
    def gbk_ok(text):
        try:
            text.encode("gbk")
        except UnicodeEncodeError:  # emoji: not in GBK, as in a real Excel export
            return False
        return True

    rows = [(t, label) for label, texts in corpus.items() for t in texts if gbk_ok(t)]
    path = write_csv(tmp_path / "excel.csv", ["问题", "意图"], rows, encoding="gbk", newline="\r\n")
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "a")]) == 0
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "b"), "--encoding", "gbk"]) == 0
    assert csnlp.read_manifest(tmp_path / "a")["labels"] == sorted(corpus)
    capsys.readouterr()
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "c"), "--encoding", "utf-8"]) == 1
    _assert_one_line_error(capsys.readouterr().err, "train", "cannot be decoded")


def test_train_with_a_config_and_seed(corpus_jsonl, tmp_path, capsys):
    config = tmp_path / "params.yml"
    config.write_text("C: 2.0\ncalibration_folds: 0\nword_ngram_range: [1, 1]\n", encoding="utf-8")
    assert main(["train", "--data", str(corpus_jsonl), "--out", str(tmp_path / "m"), "--config", str(config),
                 "--seed", "5"]) == 0
    params = csnlp.read_manifest(tmp_path / "m")["params"]
    assert params["C"] == 2.0 and params["random_state"] == 5 and params["word_ngram_range"] == [1, 1]


def test_train_shows_data_warnings_on_stderr(tmp_path, write_jsonl, corpus_jsonl, capsys):
    rows = [json.loads(line) for line in corpus_jsonl.read_text(encoding="utf-8").splitlines()]
    rows.append({"text": "我想开个店", "label": "open_shop"})  # a label with one example
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "fewer than 2 examples" in err


def test_train_overwrite(corpus_jsonl, fitted_clf, tmp_path, capsys):
    out = csnlp.save(fitted_clf, tmp_path / "m")
    assert main(["train", "--data", str(corpus_jsonl), "--out", str(out)]) == 1
    _assert_one_line_error(capsys.readouterr().err, "train", "already exists", "--overwrite")
    assert main(["train", "--data", str(corpus_jsonl), "--out", str(out), "--overwrite"]) == 0


def test_evaluate_reports_labels_the_model_does_not_know(model_dir, tmp_path, write_jsonl, capsys):
    rows = [{"text": "我要退货", "label": "return_goods"}, {"text": "这个能退货吗", "label": "return_goods"},
            {"text": "我想开个网店", "label": "open_shop"}, {"text": "怎么开店", "label": "open_shop"}]
    report_path = tmp_path / "r.json"
    assert main(["evaluate", "--model", str(model_dir), "--data", str(write_jsonl(tmp_path / "d.jsonl", rows)),
                 "--report", str(report_path)]) == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["unknown_labels"] == ["open_shop"]
    assert report["n"] == 4
    assert report["accuracy"] <= 0.5  # texts with unknown labels count as errors
    assert report["per_label"]["open_shop"]["recall"] == 0


@pytest.mark.parametrize("plots", [True, False], ids=["plots", "no-plots"])
def test_evaluate_plots(model_dir, heldout_jsonl, tmp_path, capsys, plots):
    if plots:
        pytest.importorskip("matplotlib")
    plot_dir = tmp_path / "plots"
    argv = ["evaluate", "--model", str(model_dir), "--data", str(heldout_jsonl)]
    assert main(argv + (["--plots", str(plot_dir)] if plots else [])) == 0
    if plots:
        pngs = sorted(plot_dir.glob("*.png"))
        assert [p.name for p in pngs] == ["confusion_matrix.png", "reliability.png"]
        for png in pngs:
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert not plot_dir.exists()


# -- user errors: exit 1, one readable line ---------------------------------------------------------------------------------------
def test_missing_data_file(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "m")]) == 1
    captured = capsys.readouterr()
    _assert_one_line_error(captured.err, "train", "no data file at", "nope.jsonl")
    assert captured.out == ""
    assert not (tmp_path / "m").exists()


def test_missing_model(tmp_path, capsys):
    assert main(["predict", "--model", str(tmp_path / "no-model"), "我要退货"]) == 1
    _assert_one_line_error(capsys.readouterr().err, "predict", "no model bundle at")


def test_missing_input_file(model_dir, tmp_path, capsys):
    assert main(["predict", "--model", str(model_dir), "--input", str(tmp_path / "nope.txt")]) == 1
    _assert_one_line_error(capsys.readouterr().err, "predict", "nope.txt")


def test_broken_training_data(corpus_jsonl, tmp_path, capsys):
    lines = corpus_jsonl.read_text(encoding="utf-8").splitlines()
    lines.insert(6, '{"text": "坏了", "label"')
    corpus_jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["train", "--data", str(corpus_jsonl), "--out", str(tmp_path / "m")]) == 1
    _assert_one_line_error(capsys.readouterr().err, "train", "line 7", "not valid JSON")
    assert main(["train", "--data", str(corpus_jsonl), "--out", str(tmp_path / "m"), "--skip-bad-lines"]) == 0


def test_damaged_model(model_dir, capsys):
    (model_dir / "arrays.npz").write_bytes(b"garbage")
    assert main(["predict", "--model", str(model_dir), "我要退货"]) == 1
    _assert_one_line_error(capsys.readouterr().err, "predict", "arrays.npz does not match its sha256")


def test_unknown_config_parameter(corpus_jsonl, tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text('{"learning_rate": 0.1}', encoding="utf-8")
    assert main(["train", "--data", str(corpus_jsonl), "--out", str(tmp_path / "m"), "--config", str(config)]) == 1
    _assert_one_line_error(capsys.readouterr().err, "train", "unknown IntentClassifier parameter(s) ['learning_rate']")


def test_config_that_is_not_json(corpus_jsonl, tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text('{"C": 1.0,', encoding="utf-8")
    assert main(["train", "--data", str(corpus_jsonl), "--out", str(tmp_path / "m"), "--config", str(config)]) == 1
    _assert_one_line_error(capsys.readouterr().err, "train", "not valid JSON")


def test_invalid_config_value(corpus_jsonl, tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text('{"C": -1}', encoding="utf-8")
    assert main(["train", "--data", str(corpus_jsonl), "--out", str(tmp_path / "m"), "--config", str(config)]) == 1
    _assert_one_line_error(capsys.readouterr().err, "train", "C must be a positive number")


def test_config_that_is_not_yaml(corpus_jsonl, tmp_path, capsys):
    config = tmp_path / "c.yml"
    config.write_text("C: [1.0,\n", encoding="utf-8")
    assert main(["train", "--data", str(corpus_jsonl), "--out", str(tmp_path / "m"), "--config", str(config)]) == 1
    _assert_one_line_error(capsys.readouterr().err, "train", "c.yml")


def test_predict_top_zero_is_a_usage_error(model_dir, capsys):
    try:
        code = main(["predict", "--model", str(model_dir), "--top", "0", "我要退货"])
    except SystemExit as exc:
        code = exc.code
    assert code in (1, 2)
    assert "Traceback" not in capsys.readouterr().err


# -- bad usage: exit 2 ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["frobnicate"],
        ["train", "--out", "m"],  # --data is required
        ["train", "--data", "d.jsonl"],  # --out is required
        ["predict", "--top", "three", "x"],
        ["train", "--data", "d.jsonl", "--out", "m", "--task", "dance"],
        ["evaluate", "--data", "d.jsonl", "--format", "xml"],
        ["--no-such-flag"],
    ],
)
def test_bad_usage_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert "usage: csnlp" in captured.err
    assert "Traceback" not in captured.err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: csnlp" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"csnlp {csnlp.__version__}"


def test_core_commands_exist():
    assert set(CORE_COMMANDS) <= set(_subcommands())


@pytest.mark.parametrize("command", [None, *_subcommands()])
def test_help_works_for_every_command(command, capsys):
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: csnlp")
    if command is None:
        for name in CORE_COMMANDS:
            assert name in out
    else:
        assert f"csnlp {command}" in out


# -- the installed console script ---------------------------------------------------------------------------------------------------------
def _console_script() -> list[str]:
    """The installed `csnlp` script next to this interpreter, else `python -m csnlp.cli`."""
    scripts = Path(sys.executable).parent
    found = shutil.which("csnlp", path=str(scripts))
    return [found] if found else [sys.executable, "-m", "csnlp.cli"]


def _run(argv: list[str], cwd, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        _console_script() + argv,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=dict(os.environ, PYTHONIOENCODING="utf-8"),
        timeout=300,
    )


def test_console_script_predicts_from_stdin(model_dir, tmp_path):
    texts = ["我要退货", "快递到哪里了", "我要投诉你们", "有优惠券吗", "转人工"]
    result = _run(["predict", "--model", str(model_dir)], tmp_path, "\n".join(texts) + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = _json_lines(result.stdout)
    assert [r["text"] for r in rows] == texts
    assert [r["intent"] for r in rows] == ["return_goods", "shipping", "complaint", "coupon", "human_agent"]


def test_console_script_reads_stdin_in_another_encoding(model_dir, tmp_path):
    result = subprocess.run(
        _console_script() + ["predict", "--model", str(model_dir), "--encoding", "gbk", "--top", "1"],
        input="我要退货\n快递到哪里了\n".encode("gbk"),
        capture_output=True,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONIOENCODING="utf-8"),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    rows = _json_lines(result.stdout.decode("utf-8"))
    assert [(r["text"], r["intent"]) for r in rows] == [("我要退货", "return_goods"), ("快递到哪里了", "shipping")]


def test_console_script_exit_codes(tmp_path):
    missing = _run(["train", "--data", "nope.jsonl", "--out", "m"], tmp_path)
    assert missing.returncode == 1
    _assert_one_line_error(missing.stderr, "train", "no data file at nope.jsonl")
    usage = _run(["train"], tmp_path)
    assert usage.returncode == 2
    assert "usage: csnlp" in usage.stderr and "Traceback" not in usage.stderr
