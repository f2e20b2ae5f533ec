"""csnlp.insights: reports over conversation logs (spikes, FAQ gaps, privacy, bad lines, periods, CLI, HTML)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import struct
import subprocess
from collections import Counter
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import csnlp
from csnlp.cli import main
from csnlp.exceptions import DataFormatError, InputError
from csnlp.insights import Report, build_report, cluster_gaps, detect_spikes, iter_log, write_report

EXAMPLES = resources.files("csnlp._data").joinpath("examples")
OUTPUT_FILES = ("report.html", "report.md", "report.json", "faq_gaps.jsonl")


def _example(name: str):
    path = EXAMPLES.joinpath(name)
    if not path.is_file():
        pytest.skip(f"the example log {name} is not installed with csnlp._data")
    return path


@pytest.fixture(autouse=True)
def _restore_csnlp_logging():
    """main() configures the 'csnlp' logger for the CLI; undo that for the other tests."""
    logger = logging.getLogger("csnlp")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture(scope="module")
def router(_csnlp_cache_dir):
    """The default router, built (or loaded from the session cache) once for this module."""
    return csnlp.load_default()


@pytest.fixture(scope="module")
def example_rows() -> list[dict]:
    with open(_example("conversations.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def planted() -> dict:
    return json.loads(_example("planted.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def example_report(router) -> Report:
    return build_report(_example("conversations.jsonl"), router)


@pytest.fixture(scope="module")
def example_dir(example_report, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    write_report(example_report, out)
    return out


def _outputs(folder) -> dict[str, str]:
    return {name: (folder / name).read_text(encoding="utf-8") for name in OUTPUT_FILES}


# -- the example log: what was planted is found ------------------------------------------------------------------
def test_planted_spike_is_found_on_its_day(example_report, planted):
    spike = planted["spike"]
    hits = [s for s in example_report.spikes if s["kind"] == "intent" and s["key"] == spike["intent"]]
    assert [s["day"] for s in hits] == [spike["date"]]
    hit = hits[0]
    assert hit["count"] >= 25 and hit["factor"] >= 3 and hit["z"] >= 5
    assert hit["factor"] == pytest.approx(hit["count"] / max(hit["baseline"], 1), rel=1e-3)
    assert hit["examples"] and all("<" not in e or ">" in e for e in hit["examples"])
    assert len(hit["series"]) == 18 and hit["series"][spike["date"]] == hit["count"]


def test_planted_topic_is_a_top_three_faq_gap(example_report, example_dir, planted):
    keywords = planted["unanswered_topic"]["keywords"]
    top = example_report.faq_gaps["clusters"][:3]
    assert len(top) == 3
    sizes = [c["size"] for c in example_report.faq_gaps["clusters"]]
    assert sizes == sorted(sizes, reverse=True)

    def about_topic(c) -> bool:
        return any(k in t for k in keywords for t in c["key_terms"] + c["representatives"])

    found = [c for c in top if about_topic(c)]
    assert found, [c["key_terms"] for c in top]
    cluster = found[0]
    assert cluster["suggestion"] == "new_intent" and cluster["suggested_id"].startswith("new_intent_")
    assert any(k in t for k in keywords for t in cluster["key_terms"])
    # the labelling file carries the cluster's messages under its suggested label
    rows = [json.loads(line) for line in (example_dir / "faq_gaps.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows and all(set(r) == {"text", "label", "cluster"} for r in rows)
    mine = [r for r in rows if r["cluster"] == cluster["cluster"]]
    assert {r["label"] for r in mine} == {cluster["label"]}
    assert sum(any(k in r["text"] for k in keywords) for r in mine) >= 0.8 * len(mine)


def test_gap_messages_are_the_documented_handoffs(example_report):
    gaps, auto = example_report.faq_gaps, example_report.automation
    assert set(gaps["reasons"]) <= {"low_confidence", "no_reply", "target_unreachable"}
    assert gaps["n_gap_messages"] == sum(auto["reasons"].get(r, 0) for r in gaps["reasons"])
    assert "out_of_scope" not in gaps["reasons"]


def test_volume_and_automation_add_up(example_report, example_rows):
    vol, auto = example_report.volume, example_report.automation
    assert vol["total"] == len(example_rows) == example_report.data["analysed"]
    assert vol["by_day"] == dict(sorted(Counter(r["ts"][:10] for r in example_rows).items()))
    assert vol["by_channel"] == dict(Counter(r["channel"] for r in example_rows).most_common())
    assert sum(auto["actions"].values()) == len(example_rows)
    assert auto["rate"] == pytest.approx(auto["actions"]["answer"] / len(example_rows), abs=1e-6)
    assert sum(v["n"] for v in auto["by_channel"].values()) == len(example_rows)
    assert sum(v["answered"] for v in auto["by_intent"].values()) == auto["actions"]["answer"]


def test_comparison_is_first_half_against_second_half(example_report):
    intents = example_report.intents
    assert intents["previous_period"] == {"start": "2026-09-14", "end": "2026-10-04"}
    assert intents["current_period"] == {"start": "2026-10-05", "end": "2026-10-25"}
    assert sum(c["current"] for c in intents["change"]) == intents["current_total"]
    assert intents["current_total"] + intents["previous_total"] == example_report.volume["total"]


def test_complaints_and_satisfaction(example_report, example_rows):
    comp, sat = example_report.complaints, example_report.satisfaction
    assert comp["available"] and comp["n_tagged"] > 0
    assert sum(comp["severity"].values()) <= comp["n_tagged"]
    assert all(len(v) <= 3 for v in comp["examples"].values())
    rated = [r["satisfaction"] for r in example_rows if r["satisfaction"] is not None]
    assert sat["n_rated"] == len(rated)
    assert sat["mean"] == pytest.approx(sum(rated) / len(rated), abs=1e-4)
    assert sum(v["n"] for v in sat["by_action"].values()) == len(rated)
    unknown = {u["agent_label"]: u["count"] for u in example_report.agent_labels["unknown_to_model"]}
    labelled = Counter(r["agent_label"] for r in example_rows if r["agent_label"] == "live_stream_prize")
    assert unknown.get("live_stream_prize") == labelled["live_stream_prize"] > 0


# -- privacy --------------------------------------------------------------------------------------------------------
def test_no_planted_private_value_in_any_output(example_dir, planted):
    outputs = _outputs(example_dir)
    values = [v for kind in ("phone", "id_card", "bank_card", "email") for v in planted["pii"][kind]]
    assert len(values) == 120
    for name, text in outputs.items():
        low = text.lower()
        leaked = [v for v in values if v.lower() in low]
        assert not leaked, f"{name} shows {leaked[:3]}"
    assert "<PHONE>" in outputs["report.json"] or "<EMAIL>" in outputs["report.json"]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _id_check(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


phones = st.builds(lambda p, rest: "1" + p + rest, st.sampled_from("3456789"), st.text("0123456789", min_size=9, max_size=9))
emails = st.builds(lambda a, b, d: a + b + "@" + d, st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=1),
                   st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=2, max_size=10),
                   st.sampled_from(["qq.com", "163.com", "gmail.com", "outlook.com", "sina.com"]))
id_cards = st.builds(
    lambda region, day, seq: (lambda body: body + _id_check(body))(region + day.strftime("%Y%m%d") + seq),
    st.sampled_from(["110101", "310104", "440106", "510107", "330106"]),
    st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2005, 12, 31)),
    st.text("0123456789", min_size=3, max_size=3),
)
bank_cards = st.builds(lambda n, digits: (lambda body: body + _luhn_digit(body))("62" + digits[: n - 3]),
                       st.sampled_from([16, 19]), st.text("0123456789", min_size=16, max_size=16))


@settings(max_examples=12)
@given(phone=phones, email=emails, id_card=id_cards, card=bank_cards)
def test_generated_private_values_never_reach_a_report(router, tmp_path_factory, phone, email, id_card, card):
    texts = [f"收货电话改成{phone}，谢谢", f"发票发到邮箱{email}", f"实名认证的身份证号{id_card}一直失败",
             f"退款退到卡号{card}了吗，我要投诉", f"麻烦回电{phone}，快递还没到"]
    records = [{"ts": f"2026-10-0{1 + i % 5}T10:00:00+08:00", "text": t, "channel": "app"} for i, t in enumerate(texts)]
    out = tmp_path_factory.mktemp("pii")
    write_report(build_report(records, router), out)
    for name, text in _outputs(out).items():
        for value in (phone, email, id_card, card):
            assert value.lower() not in text.lower(), f"{value} in {name}"


# -- detect_spikes --------------------------------------------------------------------------------------------------
def _series(values: list[int], start: str = "2026-09-01") -> dict[str, int]:
    first = dt.date.fromisoformat(start)
    return {(first + dt.timedelta(days=i)).isoformat(): v for i, v in enumerate(values)}


def test_flat_and_noisy_series_have_no_spike():
    assert detect_spikes(_series([5] * 40)) == []
    assert detect_spikes(_series([3, 6, 4, 5, 7, 2, 5, 6, 4, 3, 8, 5, 4, 6] * 3)) == []
    assert detect_spikes({}) == []


def test_planted_jump_is_found_on_its_day_with_the_documented_numbers():
    values = [4, 5, 3, 4, 6, 4, 5, 3, 4, 4, 5, 6, 4, 3, 4, 5, 40, 5, 4]
    spikes = detect_spikes(_series(values))
    assert [s.day for s in spikes] == ["2026-09-17"]
    s = spikes[0]
    # the 14 days before: 3 4 6 4 5 3 4 4 5 6 4 3 4 5 -> median 4; absolute deviations have median 1
    assert s.count == 40 and s.baseline == 4.0
    assert s.scale == pytest.approx(1.4826)
    assert s.factor == pytest.approx(10.0) and s.z == pytest.approx(36 / 1.4826)
    # a perfectly flat history has MAD 0: the scale floor of 1 applies
    flat = detect_spikes(_series([4] * 14 + [40]))
    assert [(f.scale, f.z) for f in flat] == [(1.0, 36.0)]


def test_missing_days_count_as_zero():
    counts = {"2026-09-01": 1, "2026-09-20": 12}  # 18 empty days in between
    spikes = detect_spikes(counts)
    assert [(s.day, s.baseline, s.factor) for s in spikes] == [("2026-09-20", 0.0, 12.0)]


def test_min_count_factor_and_z_are_each_required():
    values = [1] * 14 + [9]
    assert detect_spikes(_series(values)) == []  # 9 < min_count 10
    assert [s.count for s in detect_spikes(_series(values), min_count=5)] == [9]
    high = [20, 22, 18, 21, 19, 20, 23, 17, 20, 21, 19, 22, 18, 20, 50]
    assert detect_spikes(_series(high)) == []  # factor 2.5 < 3
    assert [s.count for s in detect_spikes(_series(high), min_factor=2.0)] == [50]
    wild = [0, 9] * 7 + [30]  # baseline 4.5, factor 6.7, but MAD 4.5: z = 25.5 / 6.67 = 3.8
    assert detect_spikes(_series(wild)) == []
    assert [s.count for s in detect_spikes(_series(wild), min_z=1.0)] == [30]


def test_window_and_min_history():
    # a busy period more than 14 days ago does not raise today's baseline
    values = [50] * 12 + [2] * 12 + [30]
    assert [s.day for s in detect_spikes(_series(values))] == [_day(24)]  # baseline: median of 50 50 2 ... 2 = 2
    assert detect_spikes(_series(values), window=24) == []  # baseline: median of 12 x 50 and 12 x 2 = 26
    # days without min_history previous days are never spikes
    assert detect_spikes(_series([1, 1, 1, 30])) == []
    assert [s.day for s in detect_spikes(_series([1, 1, 1, 30]), min_history=3)] == [_day(3)]


def test_a_level_shift_stops_being_a_spike_once_it_is_the_baseline():
    values = [2] * 14 + [20] * 14
    days = [s.day for s in detect_spikes(_series(values))]
    assert days[0] == _day(14)
    assert _day(27) not in days and len(days) <= 7


def _day(i: int) -> str:
    return (dt.date(2026, 9, 1) + dt.timedelta(days=i)).isoformat()


def test_detect_spikes_refuses_bad_input():
    with pytest.raises(InputError, match="mapping of day -> count"):
        detect_spikes([1, 2, 3])
    with pytest.raises(InputError, match="date like"):
        detect_spikes({"yesterday": 3})
    with pytest.raises(InputError, match="must be a count"):
        detect_spikes({"2026-10-01": -1})
    with pytest.raises(InputError, match="window must be an int >= 1"):
        detect_spikes({"2026-10-01": 1}, window=0)
    with pytest.raises(InputError, match="cannot exceed window"):
        detect_spikes({"2026-10-01": 1}, window=5, min_history=7)
    with pytest.raises(InputError, match="min_z must be a number > 0"):
        detect_spikes({"2026-10-01": 1}, min_z=0)


# -- cluster_gaps ---------------------------------------------------------------------------------------------------
GAP_TEXTS = [
    "直播间抽奖中奖了，奖品一直没发", "直播抽中的奖品什么时候寄", "中奖的奖品还没收到", "直播间中奖名单在哪看",
    "主播说中奖了联系客服", "发票抬头开错了", "发票抬头写错了能改吗", "电子发票的抬头错了怎么办", "发票抬头要改成公司",
    "你好", "谢谢",
]


def test_cluster_gaps_groups_topics_and_labels_them():
    clusters = cluster_gaps(GAP_TEXTS, intents=["shipping_progress"] * 5 + ["invoice"] * 4 + ["greeting", "thanks"],
                            min_cluster_size=3, total=110)
    assert len(clusters) == 2
    prize, invoice = clusters
    assert {GAP_TEXTS[m] for m in prize.members} == set(GAP_TEXTS[:5])
    assert {GAP_TEXTS[m] for m in invoice.members} == set(GAP_TEXTS[5:9])
    assert "奖品" in prize.key_terms or "中奖" in prize.key_terms
    assert "发票" in invoice.key_terms and "抬头" in invoice.key_terms
    assert prize.size == 50 and invoice.size == 40  # scaled to the total of 110
    assert prize.suggestion == "faq_entry" and prize.label == "shipping_progress"  # 100 % under one intent
    assert prize.suggested_id.startswith("faq_shipping_progress_")
    assert all(r in GAP_TEXTS[:5] for r in prize.representatives)


def test_cluster_gaps_suggests_a_new_intent_when_the_model_is_split():
    intents = ["shipping_progress", "coupon", "greeting", "order_status", "thanks"] + ["invoice"] * 6
    prize = cluster_gaps(GAP_TEXTS, intents=intents, min_cluster_size=3)[0]
    assert prize.suggestion == "new_intent" and prize.label == prize.suggested_id
    assert prize.label.startswith("new_intent_") and prize.label.count("_") == 3


def test_cluster_gaps_edge_cases_and_errors():
    assert cluster_gaps([]) == []
    assert cluster_gaps(["只有一句"]) == []
    with pytest.raises(InputError, match="single str"):
        cluster_gaps("直播间抽奖")
    with pytest.raises(InputError, match="one intent per text"):
        cluster_gaps(GAP_TEXTS, intents=["a"])
    with pytest.raises(InputError, match="distance_threshold"):
        cluster_gaps(GAP_TEXTS, distance_threshold=1.5)


# -- reading: bad lines, periods, CSV ---------------------------------------------------------------------------------
BAD_LOG = [
    {"ts": "2026-10-01T10:00:00+08:00", "text": "快递到哪了", "channel": "app"},
    '{"ts": "2026-10-01T10:01:00+08:00", "text": "broken',  # 2: broken JSON
    {"ts": "2026-10-01T10:02:00+08:00", "text": "我要退货", "channel": "web", "satisfaction": 4},
    {"text": "没有时间戳"},  # 4: ts missing
    {"ts": "13912345678", "text": "时间戳里是电话"},  # 5: ts unreadable (and private)
    {"ts": "2026-10-01T10:05:00+08:00", "text": "满意度不对", "satisfaction": "很好"},  # 6: wrong type
    {"ts": "2026-10-01T10:06:00+08:00", "text": 42},  # 7: text not a string
    "",  # blank: not a bad line
    {"ts": "2026-10-02T09:00:00+08:00", "text": "发票怎么开", "resolved": True},
]


def test_bad_lines_are_counted_with_their_line_numbers(router, tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "log.jsonl", BAD_LOG)
    report = build_report(path, router, skip_bad_lines=True)
    assert report.data["bad"] == 5 and report.data["analysed"] == 3
    assert [b["line"] for b in report.data["bad_lines"]] == [2, 4, 5, 6, 7]
    errors = [b["error"] for b in report.data["bad_lines"]]
    assert "not valid JSON" in errors[0] and '"ts" is missing' in errors[1]
    assert "satisfaction" in errors[3] and '"text" must be a string' in errors[4]
    write_report(report, tmp_path / "out")
    for name, text in _outputs(tmp_path / "out").items():
        assert "13912345678" not in text, name  # a bad line is listed by number, never by content
    assert "line 5" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8") or "| 5 |" in (
        tmp_path / "out" / "report.md").read_text(encoding="utf-8")


def test_first_bad_line_is_an_error_without_skip(router, tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "log.jsonl", BAD_LOG)
    with pytest.raises(DataFormatError, match=r"log\.jsonl line 2: not valid JSON"):
        build_report(path, router)


def test_iter_log_reads_lazily_and_validates(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "log.jsonl", BAD_LOG)
    lines = iter_log(path)
    first = next(lines)
    assert first[0] == 1 and first[1].text == "快递到哪了" and first[1].day == dt.date(2026, 10, 1)
    rest = list(lines)
    assert [n for n, r in rest if isinstance(r, DataFormatError)] == [2, 4, 5, 6, 7]
    with pytest.raises(FileNotFoundError, match="no log file"):
        list(iter_log(tmp_path / "missing.jsonl"))
    with pytest.raises(InputError, match="cannot tell the log format"):
        list(iter_log(write_jsonl(tmp_path / "log.txt", BAD_LOG[:1])))


def test_since_until_filter_and_previous_period(router, example_rows):
    report = build_report(_example("conversations.jsonl"), router, since="2026-10-12", until="2026-10-18")
    days = Counter(r["ts"][:10] for r in example_rows)
    inside = {d: n for d, n in days.items() if "2026-10-12" <= d <= "2026-10-18"}
    assert report.volume["by_day"] == dict(sorted(inside.items()))
    assert report.volume["total"] == sum(inside.values())
    # the comparison is the 7 days before since; the 14 days before since are routed for the spike baselines
    assert report.intents["previous_period"] == {"start": "2026-10-05", "end": "2026-10-11"}
    assert report.intents["previous_total"] == sum(n for d, n in days.items() if "2026-10-05" <= d <= "2026-10-11")
    assert report.data["before_since_routed"] == sum(n for d, n in days.items() if "2026-09-28" <= d <= "2026-10-11")
    assert report.data["before_since_skipped"] == sum(n for d, n in days.items() if d < "2026-09-28")
    assert report.data["after_until"] == sum(n for d, n in days.items() if d > "2026-10-18")
    assert all("2026-10-12" <= s["day"] <= "2026-10-18" for s in report.spikes)
    assert all("2026-10-12" <= c["first_day"] and c["last_day"] <= "2026-10-18" for c in report.faq_gaps["clusters"])


def test_unknown_encoding_and_format_are_refused_before_routing(router, tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "log.jsonl", BAD_LOG[:1])
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        build_report(path, router, encoding="klingon")
    with pytest.raises(InputError, match="unknown log format 'xml'"):
        build_report(path, router, format="xml")
    with pytest.raises(DataFormatError, match="cannot be decoded as utf-8"):
        build_report(_example("conversations.csv"), router, encoding="utf-8")


@pytest.mark.slow
def test_worker_processes_give_the_same_report(router, example_rows):
    serial = build_report(example_rows[:300], router).to_dict()
    parallel = build_report(example_rows[:300], router, n_jobs=2, batch_size=64).to_dict()
    assert serial.pop("meta")["n_jobs"] == 1 and parallel.pop("meta")["n_jobs"] == 2
    assert serial == parallel


def test_period_arguments_are_checked(router):
    records = [{"ts": "2026-10-01T10:00:00+08:00", "text": "快递到哪了"}]
    with pytest.raises(InputError, match="after until"):
        build_report(records, router, since="2026-10-10", until="2026-10-01")
    with pytest.raises(InputError, match="since must be a date like"):
        build_report(records, router, since="last week")
    with pytest.raises(InputError, match="n_jobs must be"):
        build_report(records, router, n_jobs=0)
    with pytest.raises(InputError, match="iterable of records"):
        build_report(42, router)


def test_gb18030_csv_from_excel(router, example_rows):
    path = _example("conversations.csv")
    raw = path.read_bytes()
    assert b"\r\n" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    lines = []
    report = build_report(path, router, progress=lines.append)
    first = example_rows[:300]
    assert report.data["analysed"] == 300 and report.data["bad"] == 0 and sum(lines) == 300
    assert report.volume["by_channel"] == dict(Counter(r["channel"] for r in first).most_common())
    assert report.satisfaction["n_rated"] == sum(r["satisfaction"] is not None for r in first)
    assert report.satisfaction["resolved_rate"] == pytest.approx(sum(r["resolved"] for r in first) / 300, abs=1e-6)
    jsonl = build_report(first, router)
    assert report.intents["counts"] == jsonl.intents["counts"]  # same texts, same decisions


def test_report_is_reproducible_and_json_safe(router, example_rows):
    a = build_report(example_rows[:400], router).to_dict()
    b = build_report(iter(example_rows[:400]), router, batch_size=7).to_dict()
    assert a == b
    assert json.loads(json.dumps(a, ensure_ascii=False)) == a


def test_a_period_without_data_still_gives_a_report(router, example_rows, tmp_path):
    report = build_report(example_rows[:50], router, since="2027-01-01")
    assert report.volume["total"] == 0 and report.data["before_since_routed"] == 50
    assert report.spikes == [] and report.faq_gaps["clusters"] == [] and report.automation["rate"] == 0.0
    write_report(report, tmp_path)
    assert "no data" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "</html>" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_plain_intent_bundle_is_wrapped_in_a_router(fitted_clf, tmp_path, example_rows):
    bundle = csnlp.save(fitted_clf, tmp_path / "intent")
    report = build_report(example_rows[:60], str(bundle))
    assert "intent bundle" in report.meta["model"] and "no feedback tagger" in report.meta["model"]
    assert report.complaints["available"] is False and report.volume["total"] == 60
    paths = write_report(report, tmp_path / "out")
    assert all(p.is_file() for p in paths.values())


# -- writing, HTML, CLI ----------------------------------------------------------------------------------------------
def test_html_is_one_self_contained_responsive_file(example_dir):
    page = (example_dir / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert page.count("<svg") >= 5
    for forbidden in ("<script", "<img", "<link", "<iframe", "@import", "url(", "http://", "https://", "@font-face"):
        assert forbidden not in page.lower(), forbidden
    for section in ('id="volume"', 'id="intents"', 'id="automation"', 'id="complaints"', 'id="spikes"', 'id="gaps"',
                    'id="satisfaction"'):
        assert section in page
    md = (example_dir / "report.md").read_text(encoding="utf-8")
    assert "## Spikes" in md and "payment_issue" in md and "## FAQ gaps" in md


def test_write_report_refuses_a_file_as_folder(example_report, tmp_path):
    target = tmp_path / "taken"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="not a directory"):
        write_report(example_report, target)
    with pytest.raises(InputError, match="expected a Report"):
        write_report({"meta": {}}, tmp_path / "out")


def test_cli_report_end_to_end_on_the_excel_csv(tmp_path, capsys):
    out = tmp_path / "weekly"
    code = main(["report", "--logs", str(_example("conversations.csv")), "--out", str(out), "--since", "2026-09-16"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["out"] == str(out) and summary["bad_lines"] == 0 and 0 < summary["analysed"] < 300
    assert all((out / name).is_file() for name in OUTPUT_FILES)
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["meta"]["since"] == "2026-09-16"


def test_cli_report_missing_file_is_one_readable_line(tmp_path, capsys):
    code = main(["report", "--logs", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("csnlp report: error: ") and "no log file" in lines[0], err
    assert not (tmp_path / "out").exists()


def test_cli_report_bad_line_error_and_skip(tmp_path, capsys, write_jsonl):
    path = write_jsonl(tmp_path / "log.jsonl", BAD_LOG)
    assert main(["report", "--logs", str(path), "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 2" in err[0] and "not valid JSON" in err[0]
    assert main(["report", "--logs", str(path), "--out", str(tmp_path / "b"), "--skip-bad-lines"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["bad_lines"] == 5


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_html_renders_in_headless_chromium(example_dir, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (chromium, chromium-browser, google-chrome): cannot render the report")
    shot = tmp_path / "shot.png"
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=412,2000",
           (example_dir / "report.html").resolve().as_uri()]
    result = subprocess.run(cmd, capture_output=True, timeout=180)
    assert shot.is_file(), result.stderr.decode(errors="replace")[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (412, 2000)
