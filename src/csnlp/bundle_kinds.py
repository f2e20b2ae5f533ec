"""The model classes that :mod:`csnlp.persistence` can save and load, by the kind name stored in a manifest."""

from __future__ import annotations

from csnlp.intent import IntentClassifier
from csnlp.persistence import register_kind
from csnlp.route import Router
from csnlp.streaming import StreamingIntentClassifier
from csnlp.tag import FeedbackTagger

register_kind("intent_classifier", IntentClassifier)
register_kind("router", Router)
register_kind("feedback_tagger", FeedbackTagger)
register_kind("streaming_intent_classifier", StreamingIntentClassifier)
