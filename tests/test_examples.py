"""The scripts in examples/ work as their docstrings say.

- examples/service.py runs as a subprocess on 127.0.0.1 with port 0; the test reads the port it prints, posts
  messages and checks the JSON, errors included, and that concurrent requests get the same decisions.
- examples/batch_score.py scores small JSONL and GBK-encoded CSV files; its decisions must equal the
  library's own ``route_many`` on the same messages.

Both load the default model from the session's cache directory (tests/conftest.py), built once here first.
"""

from __future__ import annotations

import csv
import json
import os
import queue
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import csnlp

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
STARTUP_TIMEOUT = 300  # seconds; loading the cached default model takes about one


@pytest.fixture(scope="module")
def router():
    """The default router, built into the session cache before any subprocess needs it."""
    return csnlp.load_default()


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8",
                          timeout=timeout, env=dict(os.environ))


# -- service.py ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def service(router, tmp_path_factory):
    """The base URL of examples/service.py running in a subprocess on a free port."""
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / "service.py"), "--host", "127.0.0.1", "--port", "0"],
                            cwd=tmp_path_factory.mktemp("service"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", env=dict(os.environ))
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        first = lines.get(timeout=STARTUP_TIMEOUT)
    except queue.Empty:
        first = ""
    if not first.startswith("listening on http://"):
        proc.kill()
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"examples/service.py did not start: {first!r}\n{err[-3000:]}")
    try:
        yield first.split()[-1]
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _request(url: str, body: bytes | None = None, method: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode("utf-8"))


def _post(base: str, payload) -> tuple[int, dict]:
    return _request(base + "/route", json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def test_service_routes_one_message(service, router):
    status, body = _post(service, {"text": "订单2026100812345678还没发货，能帮我催一下吗", "context": {"channel": "wechat"}})
    assert status == 200
    expected = router.route("订单2026100812345678还没发货，能帮我催一下吗", {"channel": "wechat"}).to_dict()
    assert body == json.loads(json.dumps(expected, ensure_ascii=False))
    assert body["masked_text"] == "订单<ORDER_NO>还没发货,能帮我催一下吗"
    assert body["action"] in ("answer", "clarify", "handoff")


def test_service_follows_the_rules(service):
    cases = {"转人工": ("handoff", "user_request"), "😂😂😂": ("clarify", "empty_input"),
             "再不退款我就打12315投诉": ("handoff", "escalation_risk")}
    for text, (action, reason) in cases.items():
        status, body = _post(service, {"text": text})
        assert status == 200
        assert (body["action"], body["reason"]) == (action, reason), text
    status, body = _post(service, {"text": "还是不行", "context": {"failures": 2, "tier": "vip"}})
    assert (status, body["reason"], body["priority"]) == (200, "repeated_failure", "high")


def test_service_routes_a_batch(service, router):
    texts = ["我要退货", "快递到哪了", "转人工"]
    status, body = _post(service, {"texts": texts, "contexts": [{"channel": "app"}, {"channel": "sms"}, None]})
    assert status == 200
    assert [d["intent"] for d in body["decisions"]] == [
        d.intent for d in router.route_many(texts, [{"channel": "app"}, {"channel": "sms"}, None])]


def test_service_health(service, router):
    status, body = _request(service + "/health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["intents"] == len(router.classes_)


@pytest.mark.parametrize(("payload", "status", "fragment"), [
    (b"{not json", 400, "not UTF-8 JSON"),
    (b'"just a string"', 400, "expected a JSON object"),
    (b'{"message": "hi"}', 400, 'missing "text"'),
    (json.dumps({"text": 123}).encode(), 400, "must be str"),
    (json.dumps({"text": "你好", "context": "vip"}).encode(), 400, "context must be a dict"),
    (json.dumps({"texts": "你好"}).encode(), 400, "must be a list"),
])
def test_service_rejects_bad_input_with_json(service, payload, status, fragment):
    got, body = _request(service + "/route", payload)
    assert got == status
    assert fragment in body["error"], body


def test_service_unknown_path_and_method(service):
    assert _request(service + "/nope", b"{}")[0] == 404
    assert _request(service + "/nope")[0] == 404
    assert _request(service + "/route", b"{}", method="PUT")[0] == 405


def test_service_concurrent_requests_get_the_same_answers(service):
    texts = ["我要退货", "快递三天没更新了", "发票抬头写错了", "转人工", "你们是骗子吧", "优惠券怎么用"] * 4
    alone = [_post(service, {"text": t})[1] for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = [body for _, body in pool.map(lambda t: _post(service, {"text": t}), texts)]
    assert together == alone


# -- batch_score.py --------------------------------------------------------------------------------------------
MESSAGES = [
    {"id": "a1", "text": "订单2026100812345678还没发货，电话13812345678", "channel": "wechat"},
    {"id": "a2", "text": "转人工"},
    {"id": "a3", "text": "我要退货", "channel": "sms"},
    {"id": "a4", "text": "还是不行", "failures": 2, "tier": "vip"},
]


def _read_jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _expected(router, records: list[dict], with_values: bool = False) -> list[dict]:
    contexts = [{k: r[k] for k in ("failures", "tier", "channel") if k in r} or None for r in records]
    decisions = router.route_many([r["text"] for r in records], contexts)
    return [json.loads(json.dumps(d.to_dict(include_entity_values=with_values), ensure_ascii=False)) for d in decisions]


def test_batch_score_jsonl(router, tmp_path):
    src = tmp_path / "messages.jsonl"
    lines = [json.dumps(m, ensure_ascii=False) for m in MESSAGES]
    lines.insert(2, "{broken json")
    lines.append("快递到哪了")  # a plain-text line is a message too
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")

    proc = _run([str(EXAMPLES / "batch_score.py"), str(src), "--out", "out.jsonl", "--skip-bad-lines",
                 "--chunk-size", "2", "--jobs", "2"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = _read_jsonl((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert "not valid JSON" in rows[2]["error"]
    good = [r for r in rows if "error" not in r]
    assert [r.get("id") for r in good] == ["a1", "a2", "a3", "a4", None]
    expected = _expected(router, MESSAGES + [{"text": "快递到哪了"}])
    assert [{k: v for k, v in r.items() if k not in ("line", "id")} for r in good] == expected
    assert [r["reason"] for r in good[1:4:2]] == ["user_request", "repeated_failure"]
    assert good[0]["entities"] and all("value" not in e for e in good[0]["entities"]), "raw values must be left out"
    summary = json.loads(proc.stderr.strip().splitlines()[-1])
    assert summary["messages"] == 5 and summary["bad_lines"] == 1


def test_batch_score_stops_at_a_bad_line(router, tmp_path):
    src = tmp_path / "messages.jsonl"
    src.write_text('{"text": "我要退货"}\n{"text": 42}\n', encoding="utf-8")
    proc = _run([str(EXAMPLES / "batch_score.py"), str(src), "--out", "out.jsonl"], cwd=tmp_path)
    assert proc.returncode == 1
    assert "line 2" in proc.stderr and "Traceback" not in proc.stderr


def test_batch_score_gbk_csv_to_stdout(router, tmp_path):
    src = tmp_path / "export.csv"
    rows = [("订单2026100812345678什么时候发货", "app"), ("发票抬头写错了", "web"), ("我要投诉你们客服", "wechat")]
    with open(src, "w", encoding="gbk", newline="") as fh:  # what Excel on Chinese Windows writes
        writer = csv.writer(fh)
        writer.writerow(["内容", "channel"])
        writer.writerows(rows)
    proc = _run([str(EXAMPLES / "batch_score.py"), str(src), "--text-column", "内容", "--with-entity-values"],
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = _read_jsonl(proc.stdout)
    assert [r["line"] for r in out] == [2, 3, 4]  # line 1 is the header
    expected = _expected(router, [{"text": t, "channel": c} for t, c in rows], with_values=True)
    assert [{k: v for k, v in r.items() if k != "line"} for r in out] == expected
    assert out[0]["entities"][0]["value"] == "2026100812345678"
