"""Routing policy: thresholds, human-only intents, queues, lexicons, limits. A data file, validated on load.

The policy is plain data (JSON or YAML), saved inside a router bundle. Every key is optional; missing keys
take the defaults below. Unknown keys and wrong types are refused with :class:`~csnlp.exceptions.PolicyError`
naming the key and the fix.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from csnlp.exceptions import PolicyError

__all__ = ["Policy", "REASONS", "PRIORITIES", "ACTIONS"]

ACTIONS = ("answer", "clarify", "handoff")
PRIORITIES = ("low", "normal", "high", "urgent")

#: Every reason code a Decision can carry, with its action and meaning (documented in docs/concepts.md).
REASONS = {
    "confident": ("answer", "the model's confidence is at or above the intent's threshold"),
    "keyword_rule": ("answer", "a keyword rule of the policy pinned the intent"),
    "faq_match": ("answer", "no intent was confident, but an FAQ question is similar enough"),
    "user_request": ("handoff", "the customer asked for a person (转人工, 人工客服, ...)"),
    "escalation_risk": ("handoff", "regulator, lawyer, police, media or safety words, or critical severity"),
    "negative_emotion": ("handoff", "strong negative emotion or abuse"),
    "human_only_intent": ("handoff", "the intent must always reach a person (e.g. account_security)"),
    "keyword_handoff": ("handoff", "a keyword rule of the policy sends the message to a person"),
    "low_confidence": ("handoff", "the confidence is under the intent's threshold"),
    "no_reply": ("handoff", "confident intent, but the knowledge base has no reply for it"),
    "repeated_failure": ("handoff", "the bot already failed failure_limit times in this conversation"),
    "target_unreachable": ("handoff", "threshold tuning could not reach the precision target: everything goes to people"),
    "ambiguous": ("clarify", "the two best intents are both plausible and too close: ask which one"),
    "out_of_scope": ("clarify", "the message is not about this service: the bot declines politely"),
    "empty_input": ("clarify", "empty, emoji-only or unreadable input: ask the customer to rephrase"),
}

#: Intents whose messages the feedback tagger tags (besides escalations and negative emotion).
COMPLAINT_INTENTS = [
    "quality_issue", "wrong_or_missing_item", "delivery_complaint", "service_complaint", "suggestion",
    "app_malfunction", "payment_issue", "account_security", "refund_status", "repair_warranty", "price_protection",
]

DEFAULT_QUEUES = {
    "product_info": "presales",
    "price_promotion": "presales",
    "coupon": "presales",
    "membership_points": "presales",
    "order_status": "orders",
    "shipping_progress": "logistics",
    "urge_shipment": "logistics",
    "change_address": "orders",
    "cancel_order": "orders",
    "delivery_complaint": "logistics",
    "payment_issue": "billing",
    "invoice": "billing",
    "price_protection": "aftersales",
    "return_request": "aftersales",
    "exchange_request": "aftersales",
    "refund_status": "aftersales",
    "quality_issue": "aftersales",
    "wrong_or_missing_item": "aftersales",
    "repair_warranty": "aftersales",
    "account_register": "account",
    "login_problem": "account",
    "password_reset": "account",
    "account_security": "account_security",
    "app_malfunction": "tech_support",
    "service_complaint": "complaints",
    "suggestion": "feedback",
}

HUMAN_REQUEST_PHRASES = [
    "转人工", "人工客服", "人工服务", "找人工", "要人工", "接人工", "真人", "活人", "找真人", "真人客服",
    "人工坐席", "转接客服", "客服经理", "你们经理", "找你们领导", "叫你们领导", "不要机器人", "别用机器人",
    "机器人听不懂", "我要投诉你们客服", "找个人来", "有人吗有没有人", "能不能找个人",
]
ESCALATION_PHRASES = [
    "12315", "12345热线", "消协", "消费者协会", "工商局", "工商部门", "市场监管", "监管局", "律师", "起诉", "法院",
    "诉讼", "仲裁", "报警", "警察", "公安", "曝光", "媒体", "记者", "上热搜", "发微博", "微博上", "抖音上", "黑猫投诉",
    "电视台", "315晚会", "维权", "集体投诉",
]
NEGATIVE_PHRASES = [
    "垃圾", "骗子", "坑人", "骗人", "什么破", "破玩意", "去死", "滚蛋", "给我滚", "傻逼", "妈的", "他妈", "尼玛", "操你",
    "智障", "脑残", "废物", "恶心死", "气死我了", "太气人", "无语死了", "忍无可忍", "再也不买", "最差", "太差劲",
    "黑店", "坑爹", "欺诈", "诈骗",
]


@dataclass
class Policy:
    """How the router decides. See :data:`REASONS` for what each rule produces.

    Attributes
    ----------
    threshold : float
        Minimum calibrated confidence to answer, for intents without their own threshold.
    intent_thresholds : dict
        Per-intent thresholds (from ``csnlp tune --per-intent`` or set by hand).
    ambiguity_margin, ambiguity_min_score : float
        Clarify when the top two are within ``ambiguity_margin`` and both at least ``ambiguity_min_score``.
    human_only_intents : list of str
        Intents that always go to a person.
    out_of_scope_intents : list of str
        Intents meaning "not for this service": the bot declines (``clarify``, ``out_of_scope``).
    queues : dict
        Intent -> queue of the human team; ``default_queue`` for the rest, ``escalation_queue`` for risks.
    human_request_phrases, escalation_phrases, negative_phrases : list of str
        Lexicons matched on the normalised text before the model (Aho-Corasick).
    complaint_intents : list of str
        Intents whose messages the feedback tagger tags (escalations and negative emotion always are).
    keyword_rules : list of dict
        ``{"phrases": [...], "intent": "..."}`` pins an intent; ``{"phrases": [...], "handoff": true, "queue": ...}``
        hands off. Matched before the model.
    failure_limit : int
        Hand off after this many failed turns (previous ``clarify`` decisions, or ``context["failures"]``).
    tier_priority : dict
        Customer tier (from the context) -> minimum priority of a handoff.
    tuning : dict
        What threshold tuning measured (target, coverage, precision...), for the record.
    answer_model : dict or None
        Set by tuning with cross-validation: a logistic model of P(answer right) from the confidence, the
        top-two margin and the vocabulary coverage of the message; thresholds then apply to its output.
    """

    threshold: float = 0.5
    intent_thresholds: dict[str, float] = field(default_factory=dict)
    ambiguity_margin: float = 0.15
    ambiguity_min_score: float = 0.3
    human_only_intents: list[str] = field(default_factory=lambda: ["account_security", "service_complaint"])
    out_of_scope_intents: list[str] = field(default_factory=lambda: ["out_of_scope"])
    queues: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_QUEUES))
    default_queue: str = "general"
    escalation_queue: str = "escalation"
    human_request_phrases: list[str] = field(default_factory=lambda: list(HUMAN_REQUEST_PHRASES))
    escalation_phrases: list[str] = field(default_factory=lambda: list(ESCALATION_PHRASES))
    negative_phrases: list[str] = field(default_factory=lambda: list(NEGATIVE_PHRASES))
    keyword_rules: list[dict] = field(default_factory=list)
    complaint_intents: list[str] = field(default_factory=lambda: list(COMPLAINT_INTENTS))
    failure_limit: int = 2
    tier_priority: dict[str, str] = field(default_factory=lambda: {"vip": "high", "svip": "urgent"})
    tuning: dict = field(default_factory=dict)
    answer_model: dict | None = None
    format_version: int = 1

    def __post_init__(self) -> None:
        self.validate()

    def threshold_for(self, intent: str | None) -> float:
        return self.intent_thresholds.get(intent, self.threshold) if intent is not None else self.threshold

    def queue_for(self, intent: str | None) -> str:
        return self.queues.get(intent, self.default_queue) if intent is not None else self.default_queue

    # -- validation ------------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`PolicyError` naming the first bad key and the fix."""
        if self.format_version != 1:
            raise PolicyError(f"policy format_version {self.format_version} is not supported: use 1")
        for key in ("threshold", "ambiguity_margin", "ambiguity_min_score"):
            _check_unit(key, getattr(self, key))
        if not isinstance(self.intent_thresholds, dict):
            raise PolicyError("policy.intent_thresholds must map intent ids to numbers in [0, 1]")
        for intent, value in self.intent_thresholds.items():
            _check_unit(f"intent_thresholds.{intent}", value)
        for key in ("human_only_intents", "out_of_scope_intents", "complaint_intents", "human_request_phrases",
                    "escalation_phrases", "negative_phrases"):
            value = getattr(self, key)
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise PolicyError(f"policy.{key} must be a list of non-empty strings, got {value!r}")
        for key in ("queues", "tier_priority"):
            value = getattr(self, key)
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                raise PolicyError(f"policy.{key} must map strings to strings")
        for tier, prio in self.tier_priority.items():
            if prio not in PRIORITIES:
                raise PolicyError(f"policy.tier_priority.{tier} is {prio!r}: use one of {PRIORITIES}")
        if not isinstance(self.failure_limit, int) or isinstance(self.failure_limit, bool) or self.failure_limit < 1:
            raise PolicyError(f"policy.failure_limit must be an int >= 1, got {self.failure_limit!r}")
        if self.answer_model is not None:
            if not isinstance(self.answer_model, dict) or not isinstance(self.answer_model.get("coef"), list) \
                    or not isinstance(self.answer_model.get("intercept"), (int, float)):
                raise PolicyError("policy.answer_model must be null or {coef: [...], intercept: number}: re-run csnlp tune")
        if not isinstance(self.keyword_rules, list):
            raise PolicyError("policy.keyword_rules must be a list of {phrases: [...], intent: ...} mappings")
        for i, rule in enumerate(self.keyword_rules):
            if not isinstance(rule, dict):
                raise PolicyError(f"policy.keyword_rules[{i}] must be a mapping")
            unknown = set(rule) - {"phrases", "intent", "handoff", "queue", "priority"}
            if unknown:
                raise PolicyError(f"policy.keyword_rules[{i}] has unknown key(s) {sorted(unknown)}: "
                                  "use phrases, intent, handoff, queue, priority")
            phrases = rule.get("phrases")
            if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
                raise PolicyError(f"policy.keyword_rules[{i}].phrases must be a non-empty list of strings")
            if bool(rule.get("intent")) == bool(rule.get("handoff")):
                raise PolicyError(f"policy.keyword_rules[{i}] needs exactly one of 'intent' (answer) or 'handoff: true'")
            if "priority" in rule and rule["priority"] not in PRIORITIES:
                raise PolicyError(f"policy.keyword_rules[{i}].priority must be one of {PRIORITIES}")

    # -- reading and writing ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict, source: str = "policy") -> Policy:
        if not isinstance(data, dict):
            raise PolicyError(f"{source}: expected a mapping of policy keys, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PolicyError(f"{source}: unknown policy key(s) {unknown}: allowed keys are {sorted(known)}")
        try:
            return cls(**data)
        except PolicyError as exc:
            raise PolicyError(f"{source}: {exc}") from None

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Policy:
        """Read a policy from a JSON or YAML file."""
        path = Path(path)
        text = path.read_text(encoding="utf-8-sig")
        try:
            if path.suffix.lower() in (".yml", ".yaml"):
                import yaml

                data = yaml.safe_load(text) or {}
            else:
                data = json.loads(text)
        except (ValueError, ImportError) as exc:
            raise PolicyError(f"{path}: cannot be parsed ({exc})") from None
        except Exception as exc:  # yaml.YAMLError without importing yaml at module level
            raise PolicyError(f"{path}: cannot be parsed ({exc})") from None
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict:
        return asdict(self)


def _check_unit(key: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise PolicyError(f"policy.{key} must be in [0, 1], got {value!r}")
