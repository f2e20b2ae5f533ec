"""Shared fixtures: a small Chinese customer-service intent corpus, files made from it, a fitted model.

Everything is built in temporary directories; nothing here depends on the working directory or the network.
"""

from __future__ import annotations

import csv
import json

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis: no deadline (the first call of a tokenizer loads a dictionary), no example database written
# into whatever directory pytest was started from.
settings.register_profile(
    "csnlp",
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("csnlp")

#: 8 intents x 10 varied messages: colloquial, traditional characters, full-width, emoji, numbers.
CORPUS: dict[str, list[str]] = {
    "return_goods": [
        "我要退货",
        "这件衣服尺码不对，怎么退货？",
        "收到的杯子碎了想退掉",
        "七天无理由退货怎么申请",
        "退貨流程是什麼",
        "不想要了可以退吗",
        "商品有质量问题，申请退货",
        "退货要自己出运费吗",
        "鞋子穿着磨脚想退了😢",
        "帮我把订单2024061512345678退掉",
    ],
    "refund": [
        "退款什么时候到账",
        "钱怎么还没退回来",
        "退款到哪里了？？？",
        "我申请的退款一直没处理",
        "退款¥199什么时候能到",
        "已经退货了但是没收到退款",
        "退款能退到微信吗",
        "取消订单后多久退钱",
        "款项退回原路吗",
        "我的退款被拒绝了为什么",
    ],
    "shipping": [
        "快递到哪了",
        "物流三天没更新了",
        "我的包裹怎么还没到",
        "快递单号SF1234567890123查不到",
        "什么时候发货啊",
        "物流信息一直不动",
        "能不能发顺丰",
        "快遞怎麼這麼慢",
        "显示已签收但是我没收到",
        "几天能送到北京",
    ],
    "invoice": [
        "怎么开发票",
        "我需要增值税专用发票",
        "发票抬头写错了能改吗",
        "电子发票在哪里下载",
        "可以开公司抬头的发票吗",
        "发票什么时候寄出",
        "要一张纸质发票",
        "开票信息怎么填写",
        "發票還沒收到",
        "发票税号填错了",
    ],
    "change_address": [
        "收货地址填错了",
        "能改一下收货地址吗",
        "我想修改配送地址",
        "地址写错了还没发货能改吗",
        "换个地址收货",
        "收件人电话要改成13812345678",
        "搬家了地址要换",
        "帮我改下门牌号",
        "修改地址怎么操作",
        "送货地址能改到公司吗",
    ],
    "human_agent": [
        "转人工",
        "我要人工客服",
        "找个真人跟我说",
        "机器人听不懂，转人工服务",
        "人工客服在吗",
        "有没有活人",
        "叫你们客服经理出来",
        "别让机器人回复了",
        "接通人工",
        "请帮我转接人工坐席",
    ],
    "complaint": [
        "我要投诉你们",
        "服务态度太差了",
        "快递员态度恶劣我要投诉",
        "你们这是欺诈消费者",
        "我要去消协告你们",
        "客服一直敷衍我",
        "投訴！！！太過分了",
        "等了一个小时都没人理",
        "这种服务我要给差评",
        "投诉电话是多少",
    ],
    "coupon": [
        "优惠券怎么用",
        "有没有优惠活动",
        "满减券用不了",
        "新人红包在哪里领",
        "优惠码输入无效",
        "双十一有折扣吗",
        "积分能抵扣现金吗",
        "领的券过期了",
        "能便宜点吗",
        "会员有什么优惠",
    ],
}

#: Messages not in the training data, with the intent a person would give them (2 per intent).
#: A small multi-label feedback corpus (one label each) for tagger fixtures.
FEEDBACK = {
    "logistics": ["快递太慢了,等了一个星期", "物流信息三天没更新", "包裹扔在门口没人管", "配送太慢,说好次日达", "快递一直不派送"],
    "product_defect": ["屏幕有坏点", "开机就黑屏", "充电器用两天就坏了", "耳机一边没声音", "电池鼓包了"],
    "after_sales": ["退款申请一直没人处理", "退货寄回去十天了还没退款", "申请换货被拒绝了", "退款被驳回", "售后电话打不通"],
    "praise": ["质量很好,非常满意", "客服态度很好,谢谢", "包装精美,很喜欢", "性价比很高,会回购", "东西不错,好评"],
}

HELDOUT: list[tuple[str, str]] = [
    ("这个能退货吗", "return_goods"),
    ("衣服不合适我想退货", "return_goods"),
    ("退款还没到账", "refund"),
    ("什么时候给我退款", "refund"),
    ("快递到哪里了", "shipping"),
    ("物流怎么一直不更新", "shipping"),
    ("帮我开个发票", "invoice"),
    ("电子发票怎么下载", "invoice"),
    ("地址能改吗", "change_address"),
    ("我要修改收货地址", "change_address"),
    ("转人工客服", "human_agent"),
    ("我要找人工", "human_agent"),
    ("我要投诉客服", "complaint"),
    ("你们服务态度太差", "complaint"),
    ("有优惠券吗", "coupon"),
    ("优惠券用不了", "coupon"),
]


def _pairs() -> list[tuple[str, str]]:
    return [(text, label) for label, texts in CORPUS.items() for text in texts]


@pytest.fixture(scope="session", autouse=True)
def _csnlp_cache_dir(tmp_path_factory):
    """Keep jieba's dictionary cache out of the user's home: one fresh cache directory per test session."""
    path = tmp_path_factory.mktemp("csnlp-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CSNLP_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def corpus() -> dict[str, list[str]]:
    return {label: list(texts) for label, texts in CORPUS.items()}


@pytest.fixture(scope="session")
def intent_texts() -> list[str]:
    return [text for text, _ in _pairs()]


@pytest.fixture(scope="session")
def intent_labels() -> list[str]:
    return [label for _, label in _pairs()]


@pytest.fixture(scope="session")
def heldout() -> list[tuple[str, str]]:
    return list(HELDOUT)


def _write_jsonl(path, rows, encoding="utf-8", newline="\n"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + newline)
    return path


def _write_csv(path, header, rows, encoding="utf-8", delimiter=",", newline="\n"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def write_jsonl():
    """write_jsonl(path, rows, encoding=..., newline=...): rows are dicts (dumped) or raw str lines."""
    return _write_jsonl


@pytest.fixture(scope="session")
def write_csv():
    """write_csv(path, header, rows, encoding=..., delimiter=..., newline=...)."""
    return _write_csv


@pytest.fixture
def corpus_jsonl(tmp_path):
    """The corpus as JSONL {"text", "label"}."""
    return _write_jsonl(tmp_path / "train.jsonl", [{"text": t, "label": l} for t, l in _pairs()])


@pytest.fixture
def corpus_csv(tmp_path):
    """The corpus as UTF-8 CSV with a text,label header."""
    return _write_csv(tmp_path / "train.csv", ["text", "label"], _pairs())


@pytest.fixture
def heldout_jsonl(tmp_path):
    return _write_jsonl(tmp_path / "test.jsonl", [{"text": t, "label": l} for t, l in HELDOUT])


@pytest.fixture(scope="session")
def fitted_clf(_csnlp_cache_dir):
    """One IntentClassifier fitted on the corpus, shared by the session. Tests must not refit or mutate it."""
    from csnlp import IntentClassifier

    texts = [t for t, _ in _pairs()]
    labels = [l for _, l in _pairs()]
    return IntentClassifier(random_state=0).fit(texts, labels)
