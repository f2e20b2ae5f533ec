"""Router: answer, clarify, or hand the message to a person, with the reason, the queue and the priority.

Rules run in this order (each produces one reason code, see :data:`csnlp.policy.REASONS`):

1. empty, emoji-only or unreadable input -> ``clarify`` / ``empty_input``
2. escalation words (12315, 律师, 报警, 曝光 ...) -> ``handoff`` / ``escalation_risk``, urgent
3. an explicit request for a person -> ``handoff`` / ``user_request``, whatever the model says
4. keyword rules of the policy -> the pinned intent (``keyword_rule``) or a handoff (``keyword_handoff``)
5. strong negative emotion or abuse -> ``handoff`` / ``negative_emotion``, high
6. the model: an out-of-scope intent -> ``clarify`` / ``out_of_scope`` (the bot declines)
7. the bot already failed ``failure_limit`` times in this conversation -> ``handoff`` / ``repeated_failure``
8. a human-only intent (account_security, service_complaint) -> ``handoff`` / ``human_only_intent``
9. top two intents both plausible and close -> ``clarify`` / ``ambiguous``, naming both
10. confidence under the intent's threshold -> FAQ match (``faq_match``) or ``handoff`` / ``low_confidence``
11. otherwise ``answer`` / ``confident`` with the knowledge base's reply (``no_reply`` handoff if it has none)

A feedback tagger, when present, tags complaint-like messages; ``critical`` severity makes it an urgent
``escalation_risk`` handoff. The router keeps no state between calls: conversation state arrives in
``context`` (``failures``, ``previous`` decisions, ``tier``, ``channel``), so one router serves many threads.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from csnlp._validation import MAX_TEXT_LENGTH, check_texts
from csnlp.exceptions import InputError, NotFittedError, TuningError
from csnlp.kb import FaqMatch, KnowledgeBase
from csnlp.policy import PRIORITIES, REASONS, Policy
from csnlp.text import PLACEHOLDERS, WECHAT_EMOJI_RE, Entity, mask, normalize

__all__ = ["Decision", "Router", "PhraseMatcher", "tune_router", "check_context", "PRIVATE_ENTITY_KINDS"]

#: Entity kinds whose values identify a person (phone, ID-card and bank-card numbers, e-mail addresses).
#: ``Decision.to_dict(include_private_values=False)`` leaves them out and replaces them in the reply by their
#: placeholders (``<PHONE>`` ...); order and tracking numbers and amounts are not private in this sense.
PRIVATE_ENTITY_KINDS = ("phone", "id_card", "bank_card", "email")

logger = logging.getLogger(__name__)

_CLARIFY_EMPTY = "抱歉，我没有看懂您的意思，可以用一句话描述一下您遇到的问题吗？"
_CLARIFY_OUT_OF_SCOPE = "抱歉，这个问题我暂时帮不上忙。我可以帮您查询订单、物流、退换货、发票、账号等购物相关问题。"
_HANDOFF_REPLY = "正在为您转接人工客服，请稍候，客服会尽快回复您。"


@dataclass(frozen=True)
class Decision:
    """What the router decided for one message. ``to_dict()`` gives a JSON-safe dict.

    Attributes
    ----------
    action : str
        ``answer``, ``clarify`` or ``handoff``.
    intent : str or None
        The intent acted on (the model's best guess for handoffs; None for empty input).
    confidence : float
        Calibrated probability of ``intent`` (1.0 for keyword rules, 0.0 when the model was not asked).
    candidates : tuple of (intent, score)
        The model's three best intents.
    reply : str or None
        Text to send (the KB reply, a clarifying question, or a handoff notice); None without a KB.
    reason : str
        A code from :data:`csnlp.policy.REASONS`.
    queue : str or None
        The human team's queue for handoffs.
    priority : str
        ``low``, ``normal``, ``high`` or ``urgent``.
    masked_text : str
        The normalised message with private values replaced by placeholders.
    entities : tuple of Entity
        Values found in the message (order numbers fill reply placeholders).
    tags, severity, sentiment
        From the feedback tagger for complaint-like messages (empty / None otherwise).
    faq_id : str or None
        The FAQ entry answered from.
    truncated : bool
        The message was longer than the documented limit and was cut before routing.
    """

    action: str
    intent: str | None
    confidence: float
    candidates: tuple[tuple[str, float], ...]
    reply: str | None
    reason: str
    queue: str | None
    priority: str
    masked_text: str
    entities: tuple[Entity, ...] = ()
    tags: tuple[str, ...] = ()
    severity: str | None = None
    sentiment: str | None = None
    faq_id: str | None = None
    truncated: bool = False

    def to_dict(self, include_entity_values: bool = True, *, include_private_values: bool | None = None) -> dict:
        """JSON-safe dict.

        ``include_entity_values=False`` leaves out every entity's raw value (for logs and reports).
        ``include_private_values=False`` leaves out only the values of :data:`PRIVATE_ENTITY_KINDS` (phone,
        ID-card and bank-card numbers, e-mail addresses) and keeps order numbers, tracking numbers and amounts;
        it defaults to ``include_entity_values``. Whenever private values are left out, the ones the knowledge
        base filled into ``reply`` are replaced there by their placeholders (``<PHONE>`` ...) too.
        """
        if include_private_values is None:
            include_private_values = include_entity_values

        def shows_value(e: Entity) -> bool:
            return include_entity_values and (include_private_values or e.kind not in PRIVATE_ENTITY_KINDS)

        reply = self.reply if include_private_values else _redact_private(self.reply, self.entities)
        return {
            "action": self.action,
            "intent": self.intent,
            "confidence": round(float(self.confidence), 6),
            "candidates": [{"intent": i, "score": round(float(s), 6)} for i, s in self.candidates],
            "reply": reply,
            "reason": self.reason,
            "queue": self.queue,
            "priority": self.priority,
            "masked_text": self.masked_text,
            "entities": [
                {"kind": e.kind, "start": e.start, "end": e.end} | ({"value": e.value} if shows_value(e) else {})
                for e in self.entities
            ],
            "tags": list(self.tags),
            "severity": self.severity,
            "sentiment": self.sentiment,
            "faq_id": self.faq_id,
            "truncated": self.truncated,
        }


def _redact_private(reply: str | None, entities) -> str | None:
    """``reply`` with every value of a private entity (as found, upper- or lower-cased) replaced by its placeholder."""
    if not reply:
        return reply
    forms = {}
    for e in entities:
        if e.kind in PRIVATE_ENTITY_KINDS and e.value:
            for form in (e.value, e.value.upper(), e.value.lower()):
                forms.setdefault(form, PLACEHOLDERS[e.kind])
    for form in sorted(forms, key=len, reverse=True):  # longest first: a value inside another is not left half-done
        reply = reply.replace(form, forms[form])
    return reply


class PhraseMatcher:
    """Find which of many phrases occur in a text, in one pass (Aho-Corasick, via pyahocorasick).

    Phrases are normalised like messages, so 轉人工 and 转人工 match alike.
    """

    def __init__(self, phrases: Iterable[str]) -> None:
        import ahocorasick

        self.phrases = sorted({normalize(p) for p in phrases if p and normalize(p)})
        self._automaton = ahocorasick.Automaton()
        for phrase in self.phrases:
            self._automaton.add_word(phrase, phrase)
        if self.phrases:
            self._automaton.make_automaton()

    def find(self, text: str) -> list[str]:
        if not self.phrases or not text:
            return []
        return sorted({value for _, value in self._automaton.iter(text)})

    def __getstate__(self):
        return {"phrases": self.phrases}

    def __setstate__(self, state):
        self.__init__(state["phrases"])


def _max_priority(*priorities: str | None) -> str:
    return max((p for p in priorities if p), key=PRIORITIES.index, default="normal")


def _is_empty(masked_text: str) -> bool:
    # WeChat emoji codes ([微笑]) carry no request; placeholders alone (just a phone number) still might
    return not any(ch.isalnum() for ch in WECHAT_EMOJI_RE.sub("", masked_text))


class Router:
    """Route messages to the bot or to people.

    Parameters
    ----------
    classifier : IntentClassifier
        A fitted intent classifier.
    kb : KnowledgeBase, optional
        Replies and FAQ. Without it, answers carry ``reply=None``.
    policy : Policy, optional
        Thresholds and rules (default :class:`~csnlp.policy.Policy()`).
    tagger : FeedbackTagger, optional
        Tags complaint-like messages; critical severity escalates.

    Examples
    --------
    >>> from csnlp import IntentClassifier
    >>> clf = IntentClassifier(calibration_folds=0).fit(
    ...     ["我要退货", "怎么退货", "快递到哪了", "物流怎么不动"], ["return_request"] * 2 + ["shipping_progress"] * 2)
    >>> Router(clf).route("我要转人工").reason
    'user_request'
    """

    def __init__(self, classifier, *, kb: KnowledgeBase | None = None, policy: Policy | None = None,
                 tagger=None) -> None:
        self.classifier = classifier
        self.kb = kb
        self.policy = policy if policy is not None else Policy()
        self.tagger = tagger
        self._matchers = None
        self._lock = threading.Lock()

    @property
    def classes_(self):
        return self.classifier.classes_

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_matchers"] = None
        state["_lock"] = None
        state.pop("_faq_index", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _get_matchers(self) -> dict[str, PhraseMatcher]:
        if self._matchers is None:
            with self._lock:
                if self._matchers is None:
                    p = self.policy
                    rules = {i: PhraseMatcher(rule["phrases"]) for i, rule in enumerate(p.keyword_rules)}
                    self._matchers = {
                        "escalation": PhraseMatcher(p.escalation_phrases),
                        "human": PhraseMatcher(p.human_request_phrases),
                        "negative": PhraseMatcher(p.negative_phrases),
                        "rules": rules,
                    }
        return self._matchers

    def _check_ready(self) -> None:
        if not hasattr(self.classifier, "classes_"):
            raise NotFittedError("the router's classifier is not fitted: fit it or load a trained bundle first")

    # -- public API ------------------------------------------------------------------------------------------
    def route(self, text: str, context: dict | None = None) -> Decision:
        """Decide for one message. ``context``: ``failures`` (int), ``previous`` (decisions), ``tier``, ``channel``."""
        if not isinstance(text, str):
            raise InputError(f"text must be str, got {type(text).__name__}: route() takes one message")
        return self.route_many([text], None if context is None else [context])[0]

    def route_many(self, texts, contexts: Sequence[dict | None] | None = None, *, n_jobs: int | None = None
                   ) -> list[Decision]:
        """Decide for many messages at once (one model call); same results as :meth:`route` one by one.

        ``n_jobs`` spreads large batches over worker processes (-1: all cores), results in input order.
        """
        self._check_ready()
        texts = check_texts(texts, "texts")
        if contexts is None:
            contexts = [None] * len(texts)
        elif isinstance(contexts, dict) or len(contexts) != len(texts):
            raise InputError("contexts must be a list with one context (dict or None) per text")
        contexts = [check_context(c) for c in contexts]
        if n_jobs not in (None, 1):
            from csnlp._parallel import map_chunks

            return map_chunks(self._route_pairs, list(zip(texts, contexts)), n_jobs)
        return self._route_checked(texts, contexts)

    def _route_pairs(self, pairs: list[tuple[str, dict]]) -> list[Decision]:
        return self._route_checked([t for t, _ in pairs], [c for _, c in pairs])

    def _route_checked(self, texts: list[str], contexts: list[dict]) -> list[Decision]:
        max_len = getattr(self.classifier, "max_length", MAX_TEXT_LENGTH)
        prepared = [mask(normalize(t[:max_len])) for t in texts]
        truncated = [len(t) > max_len for t in texts]
        model_rows = [i for i, m in enumerate(prepared) if not _is_empty(m.text)]
        proba, scores, faq = None, None, None
        if model_rows:
            proba, stats, A = self.classifier._predict_proba_preprocessed(
                [prepared[i].text for i in model_rows], return_stats=True, return_features=True)
            if self.policy.answer_model:
                from csnlp.tuning import answer_scores

                scores = answer_scores(self.policy.answer_model, proba, stats)
            faq = self._faq_matches(A)
        row_of = {i: r for r, i in enumerate(model_rows)}
        decisions = []
        for i, (m, ctx) in enumerate(zip(prepared, contexts)):
            r = row_of.get(i)
            probs = proba[r] if r is not None else None
            score = float(scores[r]) if scores is not None and r is not None else None
            match = faq[r] if faq is not None and r is not None else None
            decisions.append(self._decide(m, probs, score, match, ctx, truncated[i]))
        return self._attach_tags(texts, decisions)

    def _faq_matches(self, A) -> list | None:
        """Best FAQ entry per row of the classifier's feature matrix ``A`` (None under the threshold).

        FAQ questions are indexed in the classifier's own feature space, so matching a message costs one
        sparse product and no second pass over its text.
        """
        kb = self.kb
        if kb is None or not kb.faq:
            return None
        index = self.__dict__.get("_faq_index")
        if index is None or index[0] is not kb:
            from sklearn.preprocessing import normalize as l2_normalize

            from csnlp.features import preprocess_texts

            questions = [(e, q) for e in kb.faq for q in e.questions]
            matrix = l2_normalize(self.classifier.features_._transform(preprocess_texts([q for _, q in questions])))
            index = (kb, questions, matrix.T.tocsr())
            self.__dict__["_faq_index"] = index
        _, questions, matrix_t = index
        from sklearn.preprocessing import normalize as l2_normalize

        sims = (l2_normalize(A) @ matrix_t).toarray()
        best = sims.argmax(axis=1)
        out = []
        for row, j in zip(sims, best):
            score = float(row[j])
            if score >= kb.faq_threshold and score > 0:
                entry, question = questions[j]
                out.append(FaqMatch(entry, score, question))
            else:
                out.append(None)
        return out

    # -- the rules -------------------------------------------------------------------------------------------
    def _candidates(self, probs) -> tuple[tuple[str, float], ...]:
        order = np.argsort(-probs, kind="stable")[:3]
        return tuple((str(self.classifier.classes_[j]), float(probs[j])) for j in order)

    def _decide(self, m, probs, score: float | None, match, ctx: dict, truncated: bool) -> Decision:
        p, kb, matchers = self.policy, self.kb, self._get_matchers()
        channel = ctx.get("channel")
        tier_priority = p.tier_priority.get(str(ctx.get("tier", "")).lower())

        def make(action, reason, intent=None, confidence=0.0, candidates=(), reply=None, queue=None,
                 priority="normal", faq_id=None):
            if action == "handoff":
                priority = _max_priority(priority, tier_priority)
                if reply is None and kb is not None:
                    reply = _HANDOFF_REPLY
            return Decision(action, intent, float(confidence), candidates, reply, reason, queue, priority, m.text,
                            m.entities, faq_id=faq_id, truncated=truncated)

        if probs is None:
            return make("clarify", "empty_input", reply=_CLARIFY_EMPTY if kb is not None else None, priority="low")
        cands = self._candidates(probs)
        top, conf = cands[0]
        text = m.text
        if matchers["escalation"].find(text):
            return make("handoff", "escalation_risk", top, conf, cands, queue=p.escalation_queue, priority="urgent")
        if matchers["human"].find(text):
            return make("handoff", "user_request", top, conf, cands, queue=p.queue_for(top))
        for i, rule in enumerate(p.keyword_rules):
            if matchers["rules"][i].find(text):
                if rule.get("handoff"):
                    return make("handoff", "keyword_handoff", top, conf, cands,
                                queue=rule.get("queue") or p.queue_for(top), priority=rule.get("priority", "normal"))
                return self._answer(make, rule["intent"], 1.0, cands, m, channel, "keyword_rule")
        if matchers["negative"].find(text):
            return make("handoff", "negative_emotion", top, conf, cands, queue=p.queue_for(top), priority="high")
        if top in p.out_of_scope_intents:
            reply = _CLARIFY_OUT_OF_SCOPE if kb is not None else None
            return make("clarify", "out_of_scope", top, conf, cands, reply=reply, priority="low")
        if _failures(ctx) >= p.failure_limit:
            return make("handoff", "repeated_failure", top, conf, cands, queue=p.queue_for(top), priority="high")
        threshold = p.threshold_for(top)
        # with an answer model (tuned with unseen intents simulated) its P(right) is what meets the threshold
        gate = conf if score is None else score
        if top in p.human_only_intents:
            return make("handoff", "human_only_intent", top, conf, cands, queue=p.queue_for(top), priority="high")
        if gate < threshold and len(cands) > 1:
            second, conf2 = cands[1]
            if (conf2 >= p.ambiguity_min_score and conf - conf2 <= p.ambiguity_margin
                    and second not in p.out_of_scope_intents and conf + conf2 >= p.threshold_for(top)):
                reply = None
                if kb is not None:
                    reply = f"请问您是想咨询「{kb.intent_name(top)}」还是「{kb.intent_name(second)}」呢？"
                return make("clarify", "ambiguous", top, conf, cands, reply=reply, priority="low")
        if gate < threshold:
            if p.tuning.get("reachable") is False:
                return make("handoff", "target_unreachable", top, conf, cands, queue=p.queue_for(top))
            if match is not None:
                return make("answer", "faq_match", match.entry.intent or top, conf, cands,
                            reply=kb.faq_answer(match, m.entities, channel), priority="low", faq_id=match.entry.id)
            return make("handoff", "low_confidence", top, conf, cands, queue=p.queue_for(top))
        return self._answer(make, top, conf, cands, m, channel, "confident", match)

    def _answer(self, make, intent, conf, cands, m, channel, reason, match=None) -> Decision:
        kb, p = self.kb, self.policy
        if kb is None:
            return make("answer", reason, intent, conf, cands, priority="low")
        if intent in p.human_only_intents:
            return make("handoff", "human_only_intent", intent, conf, cands, queue=p.queue_for(intent), priority="high")
        if match is not None and reason == "confident":
            # a FAQ entry of the same intent is more specific than the intent's generic reply
            if match.entry.intent == intent:
                return make("answer", "faq_match", intent, conf, cands, reply=kb.faq_answer(match, m.entities, channel),
                            priority="low", faq_id=match.entry.id)
        reply = kb.reply_for(intent, m.entities, channel)
        if reply is None:
            return make("handoff", "no_reply", intent, conf, cands, queue=p.queue_for(intent))
        return make("answer", reason, intent, conf, cands, reply=reply, priority="low")

    def _attach_tags(self, texts: list[str], decisions: list[Decision]) -> list[Decision]:
        if self.tagger is None:
            return decisions
        complaint = set(self.policy.complaint_intents)
        rows = [
            i for i, d in enumerate(decisions)
            if d.reason != "empty_input"
            and (d.intent in complaint or d.reason in ("escalation_risk", "negative_emotion"))
        ]
        if not rows:
            return decisions
        results = self.tagger.tag([texts[i] for i in rows])
        out = list(decisions)
        for i, res in zip(rows, results):
            d = out[i]
            changes = {"tags": tuple(res.categories), "severity": res.severity, "sentiment": res.sentiment}
            if res.severity == "critical":
                changes.update(action="handoff", reason="escalation_risk", priority="urgent",
                               queue=self.policy.escalation_queue)
                if self.kb is not None and d.action != "handoff":
                    changes["reply"] = _HANDOFF_REPLY
            out[i] = _replace(d, **changes)
        return out


    # -- persistence (see csnlp.persistence) -----------------------------------------------------------------
    def _to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        from csnlp.persistence import component_state

        state: dict = {"policy": self.policy.to_dict(), "kb": self.kb.to_dict() if self.kb is not None else None}
        arrays: dict[str, np.ndarray] = {}
        for name in ("classifier", "tagger"):
            component = getattr(self, name)
            if component is not None:
                state[name], parts = component_state(component)
                arrays.update({f"{name}/{k}": v for k, v in parts.items()})
        return state, arrays

    @classmethod
    def _from_state(cls, params: dict, state: dict, arrays: dict[str, np.ndarray]) -> Router:
        from csnlp.persistence import component_from_state

        parts = {}
        for name in ("classifier", "tagger"):
            if state.get(name):
                prefix = f"{name}/"
                sub = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
                parts[name] = component_from_state(state[name], sub)
        kb = KnowledgeBase.from_dict(state["kb"], source="bundle knowledge base") if state.get("kb") else None
        policy = Policy.from_dict(state["policy"], source="bundle policy")
        return cls(parts["classifier"], kb=kb, policy=policy, tagger=parts.get("tagger"))


def tune_router(
    model,
    data,
    *,
    target_precision: float = 0.95,
    cv: int | None = None,
    per_intent: bool = False,
    simulate_unknown: bool = True,
    read_options: dict | None = None,
    out_dir=None,
) -> Router:
    """Tune a router's thresholds for ``target_precision`` on a labelled file; returns the tuned router.

    ``model`` is an IntentClassifier (routed with the default policy, no replies) or a Router. With ``cv``,
    probabilities come from ``cv``-fold cross-validation on ``data`` (the classifier's configuration refitted
    per fold, and with ``simulate_unknown`` each fold also hides a share of the intents from its model, so that
    the threshold also keeps out messages of intents the model never saw); without ``cv``, ``data`` must be
    held out: its fingerprint may not equal the training data's.
    The result is in ``router.policy.tuning`` and, with ``out_dir``, written as JSON and PNG.
    """
    from csnlp.datasets import Dataset, load_dataset
    from csnlp.tuning import answer_scores, cross_val_proba, fit_answer_model, tune_thresholds

    router = model if isinstance(model, Router) else Router(model)
    ds = data if isinstance(data, Dataset) else load_dataset(data, multi_label=False, **(read_options or {}))
    clf = router.classifier
    labels = ds.labels
    scores = None
    router.policy.answer_model = None
    if cv:
        seed = getattr(clf, "random_state", 0)
        classes = np.unique(np.asarray(ds.labels))
        if simulate_unknown:
            proba, labels, stats = cross_val_proba(clf, ds.texts, ds.labels, cv=cv, random_state=seed,
                                                   simulate_unknown=True, return_stats=True)
            pred = classes[proba.argmax(axis=1)]
            in_scope = ~np.isin(pred, router.policy.out_of_scope_intents)
            model = fit_answer_model(proba[in_scope], stats[in_scope], (pred == labels)[in_scope])
            scores = answer_scores(model, proba, stats)
            router.policy.answer_model = model
        else:
            proba = cross_val_proba(clf, ds.texts, ds.labels, cv=cv, random_state=seed)
        source = f"{cv}-fold cross-validation on {ds.source}" + (" with unseen intents simulated" if simulate_unknown else "")
    else:
        trained_on = (getattr(clf, "bundle_metadata_", None) or {}).get("training_data_sha256") or (
            getattr(clf, "bundle_manifest_", None) or {}).get("training_data_sha256")
        if trained_on and trained_on == ds.fingerprint():
            raise TuningError(
                f"{ds.source} is the model's training data: tuning on it would be optimistic. Pass cv=5 "
                "(CLI: --cv 5) to tune on cross-validated predictions, or give held-out data"
            )
        proba = clf.predict_proba(ds.texts)
        classes = clf.classes_
        source = f"held-out data {ds.source}"
    result = tune_thresholds(
        proba, classes, labels, target_precision=target_precision, per_intent=per_intent,
        out_of_scope_intents=router.policy.out_of_scope_intents, scores=scores, source=source,
    )
    apply_tuning(router.policy, result)
    if out_dir is not None:
        result.write(out_dir)
    router.tuning_result_ = result
    return router


def apply_tuning(policy: Policy, result) -> None:
    """Store a :class:`~csnlp.tuning.TuningResult`'s thresholds and figures in ``policy``."""
    policy.threshold = result.threshold
    policy.intent_thresholds = dict(result.intent_thresholds)
    policy.tuning = {k: v for k, v in result.to_dict().items() if k != "curve"}
    policy.validate()


def _replace(d: Decision, **changes) -> Decision:
    from dataclasses import replace

    return replace(d, **changes)


def check_context(ctx: dict | None) -> dict:
    """``ctx`` as the dict the router reads ({} for None); :class:`InputError` naming the key when it is malformed.

    A context is a dict with optional ``failures`` (an int >= 0), ``previous`` (a list of the conversation's
    earlier decisions: :class:`Decision` objects, their ``to_dict()`` dicts or None), ``tier`` and ``channel``.

    Examples
    --------
    >>> check_context({"previous": [{"action": "clarify", "reason": "ambiguous"}], "tier": "vip"})["tier"]
    'vip'
    >>> check_context({"previous": "还是不行"})
    Traceback (most recent call last):
    ...
    csnlp.exceptions.InputError: context['previous'] must be a list of the conversation's earlier decisions ...
    """
    if ctx is None:
        return {}
    if not isinstance(ctx, dict):
        raise InputError(f"context must be a dict (failures, previous, tier, channel) or None, got {type(ctx).__name__}")
    failures = ctx.get("failures")
    if failures is not None and (isinstance(failures, bool) or not isinstance(failures, int) or failures < 0):
        raise InputError(f"context['failures'] must be a non-negative int, got {failures!r}")
    previous = ctx.get("previous")
    if previous is not None:
        if not isinstance(previous, (list, tuple)):
            raise InputError(f"context['previous'] must be a list of the conversation's earlier decisions (Decision "
                             f"objects or their to_dict() dicts) or None, got {type(previous).__name__}")
        for i, prev in enumerate(previous):
            if prev is not None and not isinstance(prev, (Decision, dict)):
                raise InputError(f"context['previous'][{i}] must be a Decision or its to_dict() dict, got "
                                 f"{type(prev).__name__}: pass the earlier decisions of the conversation")
    return ctx


def _failures(ctx: dict) -> int:
    if ctx.get("failures") is not None:
        return int(ctx["failures"])
    count = 0
    for prev in ctx.get("previous") or ():
        action = prev.action if isinstance(prev, Decision) else (prev or {}).get("action")
        reason = prev.reason if isinstance(prev, Decision) else (prev or {}).get("reason")
        if action == "clarify" and reason != "out_of_scope":
            count += 1
    return count
