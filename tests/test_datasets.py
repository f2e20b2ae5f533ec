"""csnlp.datasets: reading labelled data (JSONL, CSV, TSV, Rasa nlu.yml), encodings, bad lines, data warnings."""

from __future__ import annotations

import json

import pytest

from csnlp import DataFormatError, Dataset, InputError, load_dataset
from csnlp.datasets import DataWarning, detect_encoding, iter_text_records

ROWS = [
    ("我要退货", "退货"),
    ("这件衣服怎么退货？", "退货"),
    ("快递到哪了", "物流"),
    ("物流三天没更新了", "物流"),
    ("怎么开发票", "发票"),
    ("發票抬頭寫錯了", "发票"),
]
TEXTS = [t for t, _ in ROWS]
LABELS = [l for _, l in ROWS]


def _jsonl_rows():
    return [{"text": t, "label": l} for t, l in ROWS]


# -- formats ---------------------------------------------------------------------------------------------------------
def test_jsonl(tmp_path, write_jsonl):
    ds = load_dataset(write_jsonl(tmp_path / "d.jsonl", _jsonl_rows()))
    assert isinstance(ds, Dataset)
    assert ds.texts == TEXTS
    assert ds.labels == LABELS
    assert len(ds) == 6
    assert not ds.multi_label
    assert ds.bad_lines == [] and ds.conflicts == [] and ds.rare_labels == []
    assert ds.source.endswith("d.jsonl")


def test_jsonl_other_field_names_and_extra_fields(tmp_path, write_jsonl):
    rows = [{"id": i, "query": t, "intent": l, "channel": "app"} for i, (t, l) in enumerate(ROWS)]
    ds = load_dataset(write_jsonl(tmp_path / "d.ndjson", rows))
    assert ds.texts == TEXTS and ds.labels == LABELS


def test_text_and_label_are_stripped(tmp_path, write_jsonl):
    rows = [{"text": f"  {t}\t", "label": f" {l} "} for t, l in ROWS]
    ds = load_dataset(write_jsonl(tmp_path / "d.jsonl", rows))
    assert ds.texts == TEXTS and ds.labels == LABELS


def test_csv(corpus_csv, intent_texts, intent_labels):
    ds = load_dataset(corpus_csv)
    assert ds.texts == intent_texts
    assert ds.labels == intent_labels


def test_csv_with_chinese_header_and_quoted_commas(tmp_path, write_csv):
    rows = ROWS + [("退货,退款,都要", "退货"), ('他说"马上到"', "物流")]
    ds = load_dataset(write_csv(tmp_path / "d.csv", ["内容", "意图"], rows))
    assert ds.texts == [t for t, _ in rows]
    assert ds.labels == [l for _, l in rows]


def test_tsv(tmp_path, write_csv):
    ds = load_dataset(write_csv(tmp_path / "d.tsv", ["text", "label"], ROWS, delimiter="\t"))
    assert ds.texts == TEXTS and ds.labels == LABELS


def test_format_argument_overrides_the_file_name(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "d.txt", _jsonl_rows())
    with pytest.raises(InputError, match="cannot tell the format"):
        load_dataset(path)
    assert load_dataset(path, format="jsonl").texts == TEXTS
    with pytest.raises(InputError, match="unknown format 'xml'"):
        load_dataset(path, format="xml")


RASA = """\
version: "3.1"
nlu:
- intent: return_goods
  examples: |
    - 我要退货
    - 这件[衣服](product)怎么退货
- intent: shipping
  examples: |
    - 我的[顺丰]{"entity": "courier"}快递到哪了
    - 物流三天没更新了
"""


def test_rasa_nlu_intents_with_entity_annotations_stripped(tmp_path):
    path = tmp_path / "nlu.yml"
    path.write_text(RASA, encoding="utf-8")
    with pytest.warns(DataWarning, match="entity annotations removed from 2 example"):
        ds = load_dataset(path)
    assert ds.texts == ["我要退货", "这件衣服怎么退货", "我的顺丰快递到哪了", "物流三天没更新了"]
    assert ds.labels == ["return_goods", "return_goods", "shipping", "shipping"]
    assert any("entity annotations" in note for note in ds.notes)


def test_rasa_synonym_regex_and_lookup_items_are_skipped_with_a_warning(tmp_path):
    path = tmp_path / "nlu.yaml"
    path.write_text(
        """\
nlu:
- intent: greet
  examples: |
    - 你好
    - 在吗
- synonym: 顺丰
  examples: |
    - SF
- regex: phone
  examples: |
    - 1[3-9]\\d{9}
- lookup: city
  examples: |
    - 北京
- intent: bye
  examples: |
    - 再见
    - 拜拜
""",
        encoding="utf-8",
    )
    with pytest.warns(DataWarning) as record:
        ds = load_dataset(path)
    messages = " | ".join(str(w.message) for w in record)
    for kind in ("synonym", "regex", "lookup"):
        assert f"1 '{kind}' item(s) skipped" in messages
    assert ds.texts == ["你好", "在吗", "再见", "拜拜"]
    assert ds.labels == ["greet", "greet", "bye", "bye"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("nlu: [\n", r"nlu\.yml line \d+: not valid YAML"),
        ("rules: []\n", "expected a Rasa NLU file with a top-level 'nlu:' list"),
        ("nlu:\n- intent: a\n  examples: |\n    - 你好\n    在吗\n", "example line '在吗' does not start with '- '"),
    ],
)
def test_rasa_errors(tmp_path, content, match):
    path = tmp_path / "nlu.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError, match=match):
        load_dataset(path)


# -- encodings and line endings ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_gbk_csv_is_detected(tmp_path, write_csv, encoding):
    path = write_csv(tmp_path / "excel.csv", ["内容", "标签"], ROWS, encoding=encoding, newline="\r\n")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the test file really is not UTF-8
    ds = load_dataset(path)
    assert ds.texts == TEXTS and ds.labels == LABELS


def test_encoding_can_be_chosen(tmp_path, write_csv):
    path = write_csv(tmp_path / "excel.csv", ["text", "label"], ROWS, encoding="gbk")
    assert load_dataset(path, encoding="gbk").texts == TEXTS
    with pytest.raises(DataFormatError, match="cannot be decoded.*--encoding gbk"):
        load_dataset(path, encoding="utf-8")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        load_dataset(path, encoding="klingon")


def test_gbk_jsonl_is_detected(tmp_path, write_jsonl):
    ds = load_dataset(write_jsonl(tmp_path / "d.jsonl", _jsonl_rows(), encoding="gbk"))
    assert ds.texts == TEXTS


def test_detect_encoding(tmp_path):
    utf8, gbk = tmp_path / "u.csv", tmp_path / "g.csv"
    utf8.write_text("text,label\n我要退货,退货\n", encoding="utf-8")
    gbk.write_bytes("text,label\n我要退货,退货\n".encode("gbk"))
    assert detect_encoding(utf8) in ("utf-8", "utf-8-sig")
    assert detect_encoding(gbk) == "gb18030"


def test_detect_encoding_of_gbk_ending_in_chinese(tmp_path):
    path = tmp_path / "g.csv"
    path.write_bytes("text,label\r\nhello,greet\r\nhi,greet\r\nrefund please,退".encode("gbk"))
    assert detect_encoding(path) == "gb18030"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "tsv"])
def test_utf8_with_bom_and_crlf(tmp_path, write_jsonl, write_csv, fmt):
    path = tmp_path / f"d.{fmt}"
    if fmt == "jsonl":
        write_jsonl(path, _jsonl_rows(), encoding="utf-8-sig", newline="\r\n")
    else:
        write_csv(path, ["text", "label"], ROWS, encoding="utf-8-sig", delimiter="," if fmt == "csv" else "\t",
                  newline="\r\n")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    ds = load_dataset(path)
    assert ds.texts == TEXTS
    assert ds.labels == LABELS


def test_csv_with_bom_and_explicit_utf8(tmp_path, write_csv):
    path = write_csv(tmp_path / "d.csv", ["text", "label"], ROWS, encoding="utf-8-sig")
    assert load_dataset(path, encoding="utf-8").labels == LABELS


def test_jsonl_with_bom_and_explicit_utf8(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "d.jsonl", _jsonl_rows(), encoding="utf-8-sig")
    assert load_dataset(path, encoding="utf-8").texts == TEXTS


# -- broken files ---------------------------------------------------------------------------------------------------------
def test_broken_jsonl_line_is_named(tmp_path, write_jsonl):
    rows = _jsonl_rows()
    rows.insert(3, '{"text": "坏掉的一行", "label": ')  # line 4
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(DataFormatError, match=r"d\.jsonl line 4: not valid JSON"):
        load_dataset(path)


def test_broken_jsonl_line_is_skipped_and_reported(tmp_path, write_jsonl):
    rows = _jsonl_rows()
    rows.insert(3, '{"text": "坏掉的一行", "label": ')
    rows.insert(5, '["not", "an", "object"]')
    rows.insert(6, '{"text": "没有标签"}')
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    ds = load_dataset(path, skip_bad_lines=True)
    assert ds.texts == TEXTS
    assert [lineno for lineno, _ in ds.bad_lines] == [4, 6, 7]
    assert "not valid JSON" in ds.bad_lines[0][1]
    assert "expected a JSON object" in ds.bad_lines[1][1]
    assert '"label" is missing' in ds.bad_lines[2][1]


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ({"text": "你好"}, r'line 7: "label" is missing'),
        ({"label": "退货"}, r'line 7: "text" is missing'),
        ({"text": "   ", "label": "退货"}, "line 7: text is empty"),
        ({"text": 123, "label": "退货"}, "line 7: text must be a string, got int"),
        ({"text": "你好", "label": None}, "line 7: label is missing"),
        ({"text": "你好", "label": " "}, "line 7: label is empty"),
        ({"text": "你好", "label": ["a", "b"]}, "line 7: label must be a single value, got list"),
    ],
)
def test_bad_records_are_named_by_line(tmp_path, write_jsonl, record, match):
    path = write_jsonl(tmp_path / "d.jsonl", _jsonl_rows() + [record])
    with pytest.raises(DataFormatError, match=match):
        load_dataset(path)


def test_bad_first_jsonl_record_is_a_bad_line_too(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "没有标签"}] + _jsonl_rows())
    ds = load_dataset(path, skip_bad_lines=True)
    assert ds.texts == TEXTS
    assert [lineno for lineno, _ in ds.bad_lines] == [1]


def test_broken_csv_line_is_named_and_can_be_skipped(tmp_path):
    path = tmp_path / "d.csv"
    lines = ["text,label"] + [f"{t},{l}" for t, l in ROWS]
    lines.insert(3, "退货,退款,一起问")  # line 4: one comma too many
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"d\.csv line 4: expected 2 fields like the header, got 3"):
        load_dataset(path)
    ds = load_dataset(path, skip_bad_lines=True)
    assert ds.texts == TEXTS
    assert [lineno for lineno, _ in ds.bad_lines] == [4]


def test_all_lines_bad(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "d.jsonl", ["{oops", "{still oops"])
    with pytest.raises(DataFormatError, match="all 2 records are bad"):
        load_dataset(path, skip_bad_lines=True)


@pytest.mark.parametrize(("name", "content"), [("e.jsonl", ""), ("e.jsonl", "\n\n  \n"), ("e.csv", ""),
                                               ("e.csv", "text,label\n"), ("e.tsv", "")])
def test_empty_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError, match="no records found"):
        load_dataset(path)


def test_empty_rasa_file(tmp_path):
    path = tmp_path / "nlu.yml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataFormatError, match="top-level 'nlu:' list"):
        load_dataset(path)


def test_missing_label_column_names_the_columns(tmp_path, write_csv):
    path = write_csv(tmp_path / "d.csv", ["text", "remark"], [(t, "x") for t in TEXTS])
    with pytest.raises(DataFormatError, match=r"no label column among \['text', 'remark'\]: name it 'label'"):
        load_dataset(path)


def test_missing_text_column_names_the_columns(tmp_path, write_csv):
    path = write_csv(tmp_path / "d.csv", ["msg_body", "label"], ROWS)
    with pytest.raises(DataFormatError, match=r"no text column among \['msg_body', 'label'\]"):
        load_dataset(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no data file at"):
        load_dataset(tmp_path / "missing.jsonl")


# -- data quality warnings -------------------------------------------------------------------------------------------------
def test_conflicting_duplicate_labels_warn(tmp_path, write_jsonl):
    rows = _jsonl_rows() + [{"text": "我要退货", "label": "物流"}, {"text": "快递到哪了", "label": "物流"}]
    with pytest.warns(DataWarning, match="1 text\\(s\\) appear with conflicting labels, e.g. '我要退货'"):
        ds = load_dataset(write_jsonl(tmp_path / "d.jsonl", rows))
    assert ds.conflicts == [("我要退货", ["物流", "退货"])]
    assert len(ds) == 8  # nothing dropped silently


def test_agreeing_duplicates_do_not_warn(tmp_path, write_jsonl):
    ds = load_dataset(write_jsonl(tmp_path / "d.jsonl", _jsonl_rows() + _jsonl_rows()[:2]))
    assert ds.conflicts == []


def test_label_with_one_example_warns(tmp_path, write_jsonl):
    rows = _jsonl_rows() + [{"text": "转人工", "label": "人工"}]
    with pytest.warns(DataWarning, match=r"fewer than 2 examples: \['人工'\]"):
        ds = load_dataset(write_jsonl(tmp_path / "d.jsonl", rows))
    assert ds.rare_labels == ["人工"]


def test_data_warning_is_a_user_warning():
    assert issubclass(DataWarning, UserWarning)


# -- multi-label ----------------------------------------------------------------------------------------------------------------
def test_multi_label_jsonl(tmp_path, write_jsonl):
    rows = [
        {"text": "快递慢还态度差", "labels": ["物流", "服务态度"]},
        {"text": "客服不理人", "labels": ["服务态度"]},
        {"text": "包装破了还少件", "labels": "包装|物流"},
        {"text": "包装太简陋", "labels": ["包装", "包装"]},
    ]
    ds = load_dataset(write_jsonl(tmp_path / "d.jsonl", rows))
    assert ds.multi_label
    assert ds.labels == [["服务态度", "物流"], ["服务态度"], ["包装", "物流"], ["包装"]]


@pytest.mark.parametrize("single_first", [True, False], ids=["single-label-first", "single-label-later"])
def test_multi_label_jsonl_mixing_label_and_labels(tmp_path, write_jsonl, single_first):
    multi = [
        {"text": "快递慢还态度差", "labels": ["物流", "服务态度"]},
        {"text": "客服不理人", "labels": ["服务态度", "包装"]},
    ]
    single = [{"text": "包装太简陋", "label": "包装"}]
    rows = single + multi if single_first else multi + single
    with pytest.warns(DataWarning, match=r"fewer than 2 examples: \['物流'\]"):
        ds = load_dataset(write_jsonl(tmp_path / "d.jsonl", rows), multi_label=True)
    expected = {"快递慢还态度差": ["服务态度", "物流"], "客服不理人": ["包装", "服务态度"], "包装太简陋": ["包装"]}
    assert ds.labels == [expected[t] for t in ds.texts]
    assert len(ds) == 3


def test_multi_label_column_read_single_label(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "labels": ["x"]}, {"text": "b", "labels": ["x"]}])
    with pytest.raises(DataFormatError, match="only a multi-label 'labels' column found: read it with multi_label=True"):
        load_dataset(path, multi_label=False)


def test_single_label_file_read_as_multi_label(tmp_path, write_jsonl):
    ds = load_dataset(write_jsonl(tmp_path / "d.jsonl", _jsonl_rows()), multi_label=True)
    assert ds.multi_label
    assert ds.labels[0] == ["退货"]


# -- prediction input records ---------------------------------------------------------------------------------------------------
def test_iter_text_records_plain_and_jsonl_lines():
    lines = ["我要退货\n", "\n", '{"text": "快递到哪了", "id": 7}\r\n', "{broken\n", '{"id": 1}\n', "  {\"text\": \"x\"}"]
    records = list(iter_text_records(lines, "msgs.txt"))
    assert records[0] == (1, {"text": "我要退货"})
    assert records[1] == (3, {"text": "快递到哪了", "id": 7})
    assert records[2][0] == 4 and isinstance(records[2][1], DataFormatError)
    assert "msgs.txt line 4: not valid JSON" in str(records[2][1])
    assert "no string 'text' field" in str(records[3][1])
    assert records[4] == (6, {"text": "x"})
    assert len(records) == 5


def test_dataset_fingerprint_depends_on_order_and_labels():
    a = Dataset(["我要退货", "快递到哪了"], ["退货", "物流"])
    assert a.fingerprint() == Dataset(["我要退货", "快递到哪了"], ["退货", "物流"]).fingerprint()
    assert a.fingerprint() != Dataset(["快递到哪了", "我要退货"], ["物流", "退货"]).fingerprint()
    assert a.fingerprint() != Dataset(["我要退货", "快递到哪了"], ["退货", "退货"]).fingerprint()
    assert json.dumps(a.fingerprint())  # a plain str
