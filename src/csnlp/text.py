"""Normalisation and masking of real Chinese chat text.

``normalize`` makes equivalent spellings equal (full/half width, traditional/simplified, case, repeated
punctuation, invisible characters). ``mask`` replaces private or volatile values (phone numbers, ID and bank
cards, e-mail, URLs, order and tracking numbers, money amounts) by placeholder tokens such as ``<PHONE>`` and
returns what it found. ``preprocess`` does both, in that order; it is what every model in csnlp applies first.

All three are idempotent and never raise on a ``str``.
"""

from __future__ import annotations

import heapq
import re
import sys
import threading
import unicodedata
from dataclasses import asdict, dataclass

from csnlp.exceptions import InputError

__all__ = [
    "Entity",
    "MaskedText",
    "PLACEHOLDERS",
    "normalize",
    "mask",
    "preprocess",
]

#: Placeholder token for each entity kind that ``mask`` recognises.
PLACEHOLDERS: dict[str, str] = {
    "url": "<URL>",
    "email": "<EMAIL>",
    "id_card": "<ID_CARD>",
    "bank_card": "<BANK_CARD>",
    "phone": "<PHONE>",
    "tracking_no": "<TRACKING_NO>",
    "order_no": "<ORDER_NO>",
    "money": "<MONEY>",
}

# Placeholders and WeChat emoji codes are protected from case folding and punctuation collapsing.
PLACEHOLDER_RE = re.compile(r"<[A-Z_]{2,16}>")
WECHAT_EMOJI_RE = re.compile(r"\[[\u4e00-\u9fffa-zA-Z]{1,6}\]")
# Unicode emoji (pictographs, dingbats, flags) with modifiers and ZWJ sequences as one unit.
EMOJI_RE = re.compile(
    "(?:[\U0001F1E6-\U0001F1FF]{2}"
    "|[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF]"
    "[\uFE0F\U0001F3FB-\U0001F3FF]*"
    "(?:\u200D[\U0001F000-\U0001FAFF\u2600-\u27BF][\uFE0F\U0001F3FB-\U0001F3FF]*)*)"
)

_ZWJ = "\u200d"


def _char_class(predicate) -> str:
    # Planes 0-1 and 14 hold every control, format and surrogate code point; scanning only them keeps
    # import fast (the other planes are letters, ideographs and private use).
    codepoints = [*range(0x20000), *range(0xE0000, 0xE1000)]
    chars = [chr(c) for c in codepoints if predicate(chr(c))]
    return "".join(re.escape(c) for c in chars)


# Control, format (zero-width, bidi marks, BOM) and surrogate code points; ZWJ is kept only inside emoji.
_INVISIBLE_RE = re.compile(
    "[" + _char_class(lambda c: unicodedata.category(c) in ("Cc", "Cf", "Cs") and c not in "\t\n\r" + _ZWJ) + "]"
)
# Sentence punctuation only: '/', '-', '@' and the like carry meaning in URLs, numbers and addresses.
_PUNCT_RUN_RE = re.compile(r"([!?,.;:~。、…·])\1+")
_SPACE_RE = re.compile(r"\s+")

_converter_lock = threading.Lock()
_converter = None


def _t2s(text: str) -> str:
    # OpenCC's converter is built once per process; it is immutable after construction.
    global _converter
    if _converter is None:
        with _converter_lock:
            if _converter is None:
                import opencc

                _converter = opencc.OpenCC("t2s")
    return _converter.convert(text)


def _check_str(text: object, name: str = "text") -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, (bytes, bytearray)):
        raise InputError(f"{name} must be str, got bytes: decode it first, e.g. data.decode('utf-8')")
    raise InputError(f"{name} must be str, got {type(text).__name__}")


def _lower_outside_placeholders(text: str) -> str:
    if "<" not in text and "[" not in text:
        return text.lower()
    out, pos = [], 0
    for m in re.finditer(PLACEHOLDER_RE.pattern + "|" + WECHAT_EMOJI_RE.pattern, text):
        out.append(text[pos : m.start()].lower())
        out.append(m.group())
        pos = m.end()
    out.append(text[pos:].lower())
    return "".join(out)


def _drop_stray_zwj(text: str) -> str:
    if _ZWJ not in text:
        return text
    keep = set()
    for m in EMOJI_RE.finditer(text):
        keep.update(i for i in range(m.start(), m.end()) if text[i] == _ZWJ)
    return "".join(c for i, c in enumerate(text) if c != _ZWJ or i in keep)


def normalize(text: str) -> str:
    """Normalise one chat message.

    Steps, in order: drop control, zero-width and surrogate characters; Unicode NFKC (full-width letters,
    digits and punctuation become half-width); traditional to simplified Chinese (OpenCC ``t2s``); lower-case
    Latin letters (placeholders such as ``<PHONE>`` and WeChat codes such as ``[微笑]`` are kept as they are);
    collapse runs of the same punctuation mark and of white space; strip.

    Parameters
    ----------
    text : str
        One message.

    Returns
    -------
    str
        The normalised message. ``normalize(normalize(t)) == normalize(t)`` for every ``str``.

    Raises
    ------
    InputError
        If ``text`` is not a ``str``.

    Examples
    --------
    >>> normalize("ＡＰＰ打不開了！！！")
    'app打不开了!'
    >>> normalize("在嗎？？[微笑]")
    '在吗?[微笑]'
    """
    text = _check_str(text)
    if not text:
        return text
    # Two passes reach a fixed point: NFKC, OpenCC and lower() can each expose input for another.
    for _ in range(2):
        previous = text
        # (cheap C-level checks first: most chat text has nothing invisible and is already NFKC)
        if not text.isprintable():  # printable means no Cc, Cf or Cs character at all
            text = _INVISIBLE_RE.sub("", text)
        text = _drop_stray_zwj(text)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        if not text.isascii():
            text = _t2s(text)
        text = _lower_outside_placeholders(text)
        text = _PUNCT_RUN_RE.sub(r"\1", text)
        text = _SPACE_RE.sub(" ", text).strip()
        if text == previous:
            break
    return text


@dataclass(frozen=True)
class Entity:
    """A value found by :func:`mask`: its kind, the text it replaced and where (in the text given to ``mask``)."""

    kind: str
    value: str
    start: int
    end: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MaskedText:
    """The result of :func:`mask`: the text with placeholders, and the entities replaced, in order."""

    text: str
    entities: tuple[Entity, ...]

    def values(self, kind: str) -> list[str]:
        """The values found of one kind, in order of appearance."""
        return [e.value for e in self.entities if e.kind == kind]


_D = r"(?<![0-9a-z])"  # nothing alphanumeric right before
_E = r"(?![0-9a-z])"  # nor right after
_TRACKING_CONTEXT = re.compile(r"(快递|运单|物流|面单|包裹)[单号码编号:: ]{0,4}$")
_EMAIL = r"[0-9a-z._%+\-]+@[0-9a-z\-]+(?:\.[0-9a-z\-]+)+"
_MONEY_BEFORE = r"(?:[¥$]|rmb|人民币) ?\d+(?:\.\d{1,2})?(?:万|千|元|块)?"
_MONEY_AFTER = r"\d+(?:\.\d{1,2})? ?(?:万元|元|块钱|块|rmb)"
# kind, pattern, and for a pattern that begins with an unbounded run of characters: the same pattern allowed to
# begin only where such a run begins, and one character of the run (see _finditer). The other patterns begin
# with a lookbehind already.
_Run = tuple[re.Pattern, re.Pattern]
_MASK_PATTERNS: list[tuple[str, re.Pattern, _Run | None]] = [
    ("url", re.compile(r"(?:https?://|www\.)[0-9a-z\-._~:/?#@!$&'()*+,;=%]+", re.IGNORECASE), None),
    (
        "email",
        re.compile(_EMAIL, re.IGNORECASE),
        (re.compile(r"(?<![0-9a-z._%+\-])" + _EMAIL, re.IGNORECASE), re.compile(r"[0-9a-z._%+\-]", re.IGNORECASE)),
    ),
    (
        "id_card",
        re.compile(_D + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dxX]" + _E),
        None,
    ),
    ("bank_card", re.compile(_D + r"(?:[3-6]\d{15,18}|[3-6]\d{3}(?:[ \-]\d{4}){3}(?:[ \-]\d{1,3})?)" + _E), None),
    (
        "phone",
        re.compile(
            r"(?<![0-9a-z])(?:\+?86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}(?![0-9a-z])"
            r"|(?<![0-9a-z])(?:0\d{2,3}[ \-]?\d{7,8}|[48]00[ \-]?\d{3}[ \-]?\d{4})(?![0-9a-z])",
            re.IGNORECASE,
        ),
        None,
    ),
    ("tracking_no", re.compile(_D + r"[a-z]{2,4}\d{9,16}" + _E, re.IGNORECASE), None),
    ("order_no", re.compile(_D + r"(?:[a-z]{1,3}\d{8,}|\d{10,})" + _E, re.IGNORECASE), None),
    (
        "money",
        re.compile(_MONEY_BEFORE + "|" + _MONEY_AFTER, re.IGNORECASE),
        (re.compile(_MONEY_BEFORE + r"|(?<!\d)" + _MONEY_AFTER, re.IGNORECASE), re.compile(r"\d")),
    ),
]


_ENTITY_HINT_RE = re.compile(r"[\d@]|https?://|www\.", re.IGNORECASE)


def _finditer(pattern: re.Pattern, text: str, run: _Run | None):
    """The matches of ``pattern.finditer(text)``, in linear time when ``pattern`` begins with a character run.

    ``finditer`` tries every start inside a run, and each try rescans the run to its end: quadratic on a long
    run of digits or dots. A match that could start inside a run could also start where the run starts (it
    needs the same rest), so leftmost-first search never starts one inside a run, except right where its
    previous match ended. ``run_start`` (``pattern`` starting only where a run starts) therefore finds the same
    matches, once such a position is tried with ``pattern`` itself; ``run_char`` matches one run character.
    """
    if run is None:
        yield from pattern.finditer(text)
        return
    run_start, run_char = run
    pos, n = 0, len(text)
    while pos < n:
        if pos and run_char.match(text, pos) and run_char.match(text, pos - 1):
            m = pattern.match(text, pos)
            if m is not None:
                yield m
                pos = m.end()
                continue
        for m in run_start.finditer(text, pos):
            yield m
            pos = m.end()
            if pos < n and run_char.match(text, pos) and run_char.match(text, pos - 1):
                break  # the previous match ended inside a run: the next may start right there
        else:
            return


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _classify(kind: str, value: str, text: str, start: int) -> str | None:
    """Refine or reject a regex match; None means 'not this kind'."""
    if kind == "bank_card":
        if not value.isdigit():
            return "bank_card"  # grouped 4-4-4-4 digits are written that way only for cards
        # A plain long digit run that fails the Luhn check is an order or tracking number, not a card.
        return "bank_card" if _luhn_ok(value) else None
    if kind == "order_no" and _TRACKING_CONTEXT.search(text[max(0, start - 8) : start]):
        return "tracking_no"
    return kind


def mask(text: str) -> MaskedText:
    """Replace private or volatile values by placeholder tokens (see :data:`PLACEHOLDERS`).

    Kinds, tried in this order so that the most specific wins: URL, e-mail, mainland ID-card number (18 chars
    with a valid date), bank-card number (16-19 digits passing the Luhn check), mainland mobile or landline or
    400/800 number, tracking number (2-4 letters then 9-16 digits, or a long number right after 快递/运单/物流
    单号), order number (10+ digits, or 1-3 letters then 8+ digits), money amount (``¥199``, ``50元``, ``3块``).

    Parameters
    ----------
    text : str
        One message; normally already passed through :func:`normalize`.

    Returns
    -------
    MaskedText
        ``text`` with placeholders, and the entities in order of position; ``start``/``end`` index ``text``.

    Notes
    -----
    Time is linear in ``len(text)``, also on long runs of digits, dots or ``@``.

    Examples
    --------
    >>> m = mask("订单2024061512345678还没发货,电话13812345678")
    >>> m.text
    '订单<ORDER_NO>还没发货,电话<PHONE>'
    >>> [e.kind for e in m.entities]
    ['order_no', 'phone']
    """
    text = _check_str(text)
    if not _ENTITY_HINT_RE.search(text):  # every pattern needs a digit, an '@' or a URL start
        return MaskedText(text, ())
    # ``taken`` stays sorted and disjoint. A kind's matches come in order and never overlap each other, so one
    # forward sweep over ``taken`` per kind finds the overlaps, and a merge keeps it sorted: linear time overall.
    taken: list[tuple[int, int, str, str]] = []
    for kind, pattern, run in _MASK_PATTERNS:
        found, i, n_taken = [], 0, len(taken)
        for m in _finditer(pattern, text, run):
            start, end = m.span()
            if n_taken:
                while i < n_taken and taken[i][1] <= start:
                    i += 1
                if i < n_taken and taken[i][0] < end:
                    continue  # overlaps a value of a more specific kind
            if kind == "url":
                end = start + len(m.group().rstrip(".,;:!?)'"))
            refined = _classify(kind, text[start:end], text, start)
            if refined is not None:
                found.append((start, end, refined, text[start:end]))
        if found:
            taken = list(heapq.merge(taken, found)) if taken else found
    if not taken:
        return MaskedText(text, ())
    out, pos = [], 0
    for start, end, kind, _ in taken:
        out.append(text[pos:start])
        out.append(PLACEHOLDERS[kind])
        pos = end
    out.append(text[pos:])
    entities = tuple(Entity(kind, value, start, end) for start, end, kind, value in taken)
    return MaskedText("".join(out), entities)


def preprocess(text: str) -> MaskedText:
    """:func:`normalize`, then :func:`mask`: what every csnlp model applies to a message first.

    Examples
    --------
    >>> preprocess("我的快遞單號SF1234567890123，怎麼還沒到？？").text
    '我的快递单号<TRACKING_NO>,怎么还没到?'
    """
    return mask(normalize(text))
