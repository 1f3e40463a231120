"""Personal data and secrets out of every user-typed text, before anything stores or shows it.

:func:`scrub` is the one entry point. Search queries go through it when the log is loaded (so
candidates, pairs, judgments, the labelling queue and proxy eval sets only ever hold scrubbed
text), tickets when they are mined, A/B event queries when they are loaded, typed judging questions
before they are written, and report examples before they are shown. Each finding is replaced by a
typed placeholder such as ``[EMAIL]`` so a reviewer still sees what was there.

The detector is Microsoft Presidio's analyzer, run **without an NLP model** (its no-op NLP engine:
no spaCy model is loaded or downloaded), with

- Presidio's recognizers: e-mail addresses (the domain checked against the public-suffix list that
  ships with ``tldextract``, never fetched), credit cards (Luhn), IBANs (mod-97 checksum), IP
  addresses, URLs with a scheme, and phone numbers through Google's libphonenumber
  (``phonenumbers``): international numbers of any country, national ones of :data:`PHONE_REGIONS`;
- embtune's recognizers (:data:`_RULES`): API keys (``sk-``, ``sk-proj-``, ``ghp_``/``github_pat_``,
  ``AKIA``, Stripe/Ledgerline-style ``*_live_``/``*_test_``, Slack, Google), JWTs, ``Bearer``/``Basic``
  credentials, secrets in URL parameters (``?t=``, ``token=``, ``key=``, ``sig=`` ...), passwords in
  URLs, account ids (``acct_…``, ``cus_…``, "account 12345678"), card-like digit runs that fail Luhn,
  ``+``-prefixed numbers libphonenumber rejects, and given names (:mod:`._given_names`, with the
  surname that follows);
- the sign-off rule: the block after "Best regards," / "Kind regards," / "Warm regards," /
  "Sincerely," / "Thanks," / "Cheers," / "Best," ... is dropped (``[SIGNATURE]``), and the name and
  company read off it are replaced, case-insensitively, everywhere else in the text.

:func:`mask_secrets` is the other half: the one helper that masks secrets (URL passwords, ``key=`` /
``token=`` parameters, token shapes, the values of key-like environment variables) in messages,
caches and pages.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterable

from ._given_names import AMBIGUOUS, GIVEN, PARTICLES

#: Regions whose *national* phone formats are recognised ("0151 12345678", "(212) 555-0199");
#: numbers written with a ``+`` country code are recognised for every country.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "IE", "IN", "AU", "BR")

#: Presidio entity -> the placeholder written in its place.
PLACEHOLDER = {
    "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "PHONE_LIKE": "PHONE", "CREDIT_CARD": "CARD",
    "CARD_LIKE": "CARD", "IBAN_CODE": "IBAN", "IP_ADDRESS": "IP", "URL": "URL", "API_KEY": "API_KEY",
    "JWT": "JWT", "TOKEN": "TOKEN", "PASSWORD": "PASSWORD", "ACCOUNT": "ACCOUNT", "PERSON": "NAME",
}

# --------------------------------------------------------------------------------------------------
# Secret shapes: shared by scrub() and mask_secrets()

#: Parameter names whose value is a secret wherever ``name=value`` appears ...
_SECRET_PARAMS = (r"token|access_token|refresh_token|id_token|auth_token|authorization|key|api_key|apikey|"
                  r"api-key|x-api-key|secret|client_secret|signature|password|passwd|pwd")
#: ... and short ones, secrets only as URL parameters (``?t=``, ``&sig=``).
_URL_SECRET_PARAMS = r"t|tok|sig|code|auth|pass|session|sessionid|session_id"
_TOKEN_CHARS = r"[A-Za-z0-9._~+/=-]"

#: (entity, regex, score). A group named ``s`` marks the secret part; else the whole match is it.
_SECRET_RULES: list[tuple[str, re.Pattern, float]] = [
    ("API_KEY", re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:api\d+-)?)?[A-Za-z0-9_-]{16,}"), 0.95),
    ("API_KEY", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,})"), 0.95),
    ("API_KEY", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), 0.95),
    ("API_KEY", re.compile(r"\b(?:(?:ll|sk|pk|rk)_(?:live|test|rk)_[A-Za-z0-9]{8,}|(?:ll|rk|whsec)_[A-Za-z0-9]{16,})\b"), 0.95),
    ("API_KEY", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}|\bAIza[0-9A-Za-z_-]{35}\b"), 0.95),
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{4,}"), 0.95),
    # a credential after Bearer/Basic: with a digit in it, or long (so "bearer authentication" stays)
    ("TOKEN", re.compile(rf"(?i)\b(?:bearer|basic)\s+(?P<s>(?={_TOKEN_CHARS}*\d){_TOKEN_CHARS}{{8,}}|{_TOKEN_CHARS}{{24,}})"), 0.9),
    ("TOKEN", re.compile(rf"(?i)(?<![\w-])(?:{_SECRET_PARAMS})=(?P<s>[^&#\s\"'<>]+)"), 0.9),
    ("TOKEN", re.compile(rf"(?i)[?&#;](?:{_URL_SECRET_PARAMS})=(?P<s>[^&#\s\"'<>]+)"), 0.9),
    ("PASSWORD", re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s/:@]+:(?P<s>[^\s/@]+)@"), 0.9),
]

#: Personal-data shapes Presidio has no recognizer for (or misses), as embtune sees them.
_DATA_RULES: list[tuple[str, re.Pattern, float]] = [
    ("ACCOUNT", re.compile(r"(?i)\b(?:acct|acc|cus|cust|sub|org|ws|in|inv|pm|ch|pi|txn)_"
                           r"(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{3,}\b"), 0.85),
    ("ACCOUNT", re.compile(r"(?i)\baccount\s*(?:id|no\.?|number|#)?\s*[:#]?\s*(?P<s>\d{6,})\b"), 0.85),
    # 13-19 digits in groups: card-like even when the Luhn check (Presidio's CREDIT_CARD) fails
    ("CARD_LIKE", re.compile(r"(?<![\w+])\d(?:[ -]?\d){12,18}(?!\w)"), 0.3),
    # "+<country> ..." with 8-15 digits: a phone number even when libphonenumber calls it invalid
    ("PHONE_LIKE", re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}(?!\w)"), 0.3),
]

_SIGNOFF_WORDS = (r"(?:(?:best|kind|kindest|warm|warmest|many)\s+(?:regards|wishes)|regards|sincerely(?:\s+yours)?|"
                  r"yours\s+(?:sincerely|truly|faithfully)|thanks(?:\s+(?:again|so\s+much|a\s+lot|in\s+advance))?|"
                  r"thank\s+you(?:\s+(?:so\s+much|again|in\s+advance))?|many\s+thanks|cheers|best|all\s+the\s+best|"
                  r"warmly|respectfully|take\s+care)")
#: A sign-off on a line of its own ("Best regards,"), the signature on the lines after it.
_SIGNOFF_LINE = re.compile(rf"^[ \t]*(?:{_SIGNOFF_WORDS}[ \t]*[,!.]?|--)[ \t]*$", re.I | re.M)
#: A sign-off and a name on the text's last line ("Thanks, Ingrid Novak").
_SIGNOFF_INLINE = re.compile(rf"(?:^|\n)[ \t]*{_SIGNOFF_WORDS}[ \t]*[,!.-][ \t]*(?P<name>[^\W\d_][\w'’.-]*"
                             rf"(?:[ \t]+[^\W\d_][\w'’.-]*){{0,3}})[ \t]*\Z", re.I)
_NAME_LINE = re.compile(r"^[^\W\d_][\w'’.-]*(?:\s+[^\W\d_][\w'’.-]*){0,4}$")
_WORD = re.compile(r"[^\W\d_](?:[\w'’]|-(?=[^\W\d_]))*")
_MAYBE_PHONE = re.compile(r"(?:\d\D{0,3}){7}")


# --------------------------------------------------------------------------------------------------
# Sign-offs and names


def _signoff(text: str) -> tuple[int, list[str]] | None:
    """(start of the sign-off block, its non-empty lines after the sign-off), or None."""
    last = None
    for m in _SIGNOFF_LINE.finditer(text):
        lines = [ln.strip() for ln in text[m.end():].splitlines() if ln.strip()]
        if 1 <= len(lines) <= 6:
            last = (m.start(), lines)
    if last is None:
        m = _SIGNOFF_INLINE.search(text)
        if m and m.start() > 0:
            return m.start(), [m.group("name")]
    return last


def _looks_like_name(line: str) -> bool:
    return bool(_NAME_LINE.match(line)) and not any(rx.search(line) for _, rx, _ in _SECRET_RULES + _DATA_RULES)


def signature_entities(text: str) -> list[tuple[str, str]]:
    """Names and companies read off a sign-off block: its first line is a person (and each part of
    the name of three letters or more), the part after the comma of a ``Title, Company`` line (or
    after "at" / "|") a company. Returned as (kind, value), longest first."""
    found: set[tuple[str, str]] = set()
    block = _signoff(text or "")
    if block is None:
        return []
    lines = block[1]
    for i, line in enumerate(lines[:4]):
        if i == 0:
            if _looks_like_name(line):
                found.add(("NAME", line))
                found |= {("NAME", p) for p in line.split() if len(p) > 2 and p.lower() not in PARTICLES}
            continue
        m = re.match(r"^[^,|@\d]{2,60}(?:,|\s\|\s|\sat\s)\s*(?P<c>[^\W\d_][^,|@\d]{1,60})$", line)
        if m:
            found.add(("COMPANY", m.group("c").strip()))
    return sorted(found, key=lambda kv: (-len(kv[1]), kv))


def _given_names(text: str) -> list[tuple[int, int]]:
    """Spans of a given name and the surname after it (see :mod:`._given_names`)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    words = list(_WORD.finditer(text))
    spans, i = [], 0

    def adjacent(a, b) -> bool:
        gap = text[a.end():b.start()]
        return 0 < len(gap) <= 2 and gap.strip(" \t") == ""

    def titled(w: str) -> bool:
        return w[:1].isupper() and not (w.isupper() and len(w) > 1)

    while i < len(words):
        m, w = words[i], words[i].group()
        lw = w.lower()
        before = text[m.start() - 1] if m.start() else " "
        nxt = words[i + 1] if i + 1 < len(words) and adjacent(m, words[i + 1]) else None
        known = lw in GIVEN or (lw in AMBIGUOUS and titled(w) and nxt is not None and titled(nxt.group())
                                and nxt.group().lower() not in STOP_WORDS)
        if not known or before in "@._/\\" or before.isdigit():
            i += 1
            continue
        mode = "title" if titled(w) else ("upper" if w.isupper() else "lower")
        end, j, taken = m.end(), i + 1, 0
        while j < len(words) and taken < 3 and adjacent(words[j - 1], words[j]):
            nw = words[j].group()
            lnw = nw.lower()
            if lnw in PARTICLES and j + 1 < len(words) and adjacent(words[j], words[j + 1]):
                end, j, taken = words[j + 1].end(), j + 2, taken + 1
                continue
            if mode == "title":
                ok = titled(nw) and lnw not in STOP_WORDS
            else:
                ok = len(nw) > 1 and lnw not in STOP_WORDS and (nw.isupper() if mode == "upper" else nw.islower())
            if not ok:
                break
            end, j, taken = words[j].end(), j + 1, taken + 1
            if mode != "title":
                break
        spans.append((m.start(), end))
        i = j
    return spans


@functools.lru_cache(maxsize=64)
def _entity_regex(entities: tuple[tuple[str, str], ...]) -> tuple[re.Pattern, dict[str, str]] | None:
    kinds: dict[str, str] = {}
    for kind, value in entities:
        value = value.strip()
        if len(value) > 1:
            kinds.setdefault(value.lower(), kind)
    if not kinds:
        return None
    alts = "|".join(re.escape(v) for v in sorted(kinds, key=lambda v: (-len(v), v)))
    return re.compile(rf"(?<!\w)(?:{alts})(?!\w)", re.I), kinds


# --------------------------------------------------------------------------------------------------
# The analyzer


_LOCK = threading.Lock()


def _import_presidio():
    """``presidio_analyzer``, imported without its optional Hugging Face NLP engine.

    The package imports that engine at import time, and with it ``transformers`` (8 s on 2 busy
    cores). embtune runs no NLP engine, so when nothing has imported ``transformers`` yet it is hidden for
    the duration of that import (presidio then marks the engine unavailable) and is importable as usual
    afterwards."""
    import sys

    if "transformers" in sys.modules:
        import presidio_analyzer

        return presidio_analyzer
    sys.modules["transformers"] = None  # type: ignore[assignment]  # "import transformers" -> ImportError
    try:
        import presidio_analyzer
    finally:
        if sys.modules.get("transformers", 0) is None:
            del sys.modules["transformers"]
    return presidio_analyzer


@functools.cache
def _engine():
    """Presidio's AnalyzerEngine over a no-op NLP engine (no model), with the recognizers above."""
    import tldextract

    _import_presidio()
    from presidio_analyzer import AnalyzerEngine, LocalRecognizer, RecognizerRegistry, RecognizerResult
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
    )

    offline_tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)  # the bundled list: no network

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str):
            return offline_tld(pattern_text).fqdn != ""

    class RuleRecognizer(LocalRecognizer):
        """embtune's regex rules for one entity; a group named ``s`` is the span to replace."""

        def __init__(self, entity: str, rules: list[tuple[re.Pattern, float]]):
            self.rules = rules
            super().__init__(supported_entities=[entity], name=f"embtune_{entity.lower()}")

        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            out = []
            for rx, score in self.rules:
                for m in rx.finditer(text):
                    s, e = m.span("s") if "s" in rx.groupindex and m.group("s") else m.span()
                    if self.supported_entities[0] == "PHONE_LIKE" and not 8 <= sum(c.isdigit() for c in m.group()) <= 15:
                        continue
                    out.append(RecognizerResult(self.supported_entities[0], s, e, score))
            return out

    class GivenNameRecognizer(LocalRecognizer):
        def __init__(self):
            super().__init__(supported_entities=["PERSON"], name="embtune_given_names")

        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            return [RecognizerResult("PERSON", s, e, 0.6) for s, e in _given_names(text)]

    schemed = [p for p in UrlRecognizer.PATTERNS if p.name in ("Standard Url", "Quoted URL")]
    registry = RecognizerRegistry(supported_languages=["en"])
    for r in (OfflineEmailRecognizer(), PhoneRecognizer(supported_regions=PHONE_REGIONS), CreditCardRecognizer(),
              IbanRecognizer(), IpRecognizer(), UrlRecognizer(patterns=schemed), GivenNameRecognizer()):
        registry.add_recognizer(r)
    by_entity: dict[str, list] = {}
    for entity, rx, score in _SECRET_RULES + _DATA_RULES:
        by_entity.setdefault(entity, []).append((rx, score))
    for entity, rules in by_entity.items():
        registry.add_recognizer(RuleRecognizer(entity, rules))
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def _entities_for(text: str) -> list[str]:
    """The entities worth asking for: libphonenumber only runs on texts with 7 digits or more."""
    ents = [e for e in PLACEHOLDER if e not in ("PHONE_NUMBER", "EMAIL_ADDRESS", "URL", "IP_ADDRESS")]
    if _MAYBE_PHONE.search(text):
        ents.append("PHONE_NUMBER")
    if "@" in text:
        ents.append("EMAIL_ADDRESS")
    if "://" in text:
        ents.append("URL")
    if "." in text or ":" in text:
        ents.append("IP_ADDRESS")
    return ents


def _find(text: str, entities: Iterable[tuple[str, str]] = ()) -> list[tuple[int, int, str]]:
    """What :func:`scrub` replaces in ``text`` (no sign-off handling): ``(start, end, placeholder)``,
    overlaps merged (the longest finding names the kind), in text order."""
    with _LOCK:
        engine = _engine()
    spans = [(r.start, r.end, PLACEHOLDER.get(r.entity_type, r.entity_type), r.score)
             for r in engine.analyze(text, language="en", entities=_entities_for(text))]
    ent = _entity_regex(tuple(entities))
    if ent is not None:
        rx, kinds = ent
        spans += [(m.start(), m.end(), kinds[m.group().lower()], 1.0) for m in rx.finditer(text)]
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    merged: list[list] = []
    for s, e, kind, score in spans:
        if merged and s < merged[-1][1]:
            cur = merged[-1]
            if (e - s, score) > (cur[3], cur[4]):
                cur[2], cur[3], cur[4] = kind, e - s, score
            cur[1] = max(cur[1], e)
        else:
            merged.append([s, e, kind, e - s, score])
    return [(s, e, kind) for s, e, kind, _, _ in merged]


def _scrub(text: str, entities: tuple[tuple[str, str], ...]) -> str:
    block = _signoff(text)
    if block is not None:
        entities = tuple(signature_entities(text)) + entities
        text = text[:block[0]].rstrip() + "\n[SIGNATURE]"
    for s, e, kind in reversed(_find(text, entities)):
        text = text[:s] + f"[{kind}]" + text[e:]
    return text


@functools.lru_cache(maxsize=100_000)
def _scrub_cached(text: str) -> str:
    return _scrub(text, ())


def scrub(text: str | None, extra_entities: Iterable[tuple[str, str]] | None = None) -> str:
    """``text`` with personal data and secrets replaced by ``[KIND]`` placeholders, the sign-off block
    by ``[SIGNATURE]``. The one entry point for every user-typed text.

    Kinds: EMAIL, PHONE, CARD, IBAN, IP, URL, API_KEY, JWT, TOKEN, PASSWORD, ACCOUNT, NAME, COMPANY,
    SIGNATURE. Names and companies read off the sign-off (plus ``extra_entities``, ``(kind, value)``
    pairs such as those of :func:`signature_entities` of another text) are replaced wherever they
    appear, in any case: "This is for PINEGROVE LEGAL" -> "This is for [COMPANY]". Idempotent.
    """
    if not text:
        return ""
    extra = tuple(extra_entities or ())
    return _scrub(text, extra) if extra else _scrub_cached(text)


# --------------------------------------------------------------------------------------------------
# Secrets in messages, caches and pages

#: Environment variables whose values are secrets, by name.
SECRET_ENV_NAME = re.compile(r"(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|CREDENTIALS?)($|_)", re.I)
REDACTED = "[REDACTED]"


def secret_env_values(names: Iterable[str | None] = ()) -> list[str]:
    """Values (6 characters or more) of key-like environment variables and of the variables ``names``."""
    wanted = {n for n in names if n}
    return [v for k, v in os.environ.items() if len(v) >= 6 and (k in wanted or SECRET_ENV_NAME.search(k))]


def mask_secrets(text: str, values: Iterable[str] = (), *, env: bool = True,
                 env_names: Iterable[str | None] = ()) -> str:
    """``text`` with secrets replaced by ``[REDACTED]``: passwords in URLs (``scheme://user:pw@``),
    secret parameters (``?key=``, ``token=``, ``api_key=``, ``?t=``, ``sig=``, ``password=`` ...), token
    shapes (API keys, JWTs, ``Bearer`` credentials), the given ``values`` and, with ``env``, the values
    of key-like environment variables (and of ``env_names``). Cheap: no detector is loaded."""
    if not text:
        return text or ""
    for v in sorted({*values, *(secret_env_values(env_names) if env else ())}, key=len, reverse=True):
        if v and len(v) >= 4:
            text = text.replace(v, REDACTED)
    for _, rx, _ in _SECRET_RULES:
        if "s" in rx.groupindex:
            text = rx.sub(lambda m: m.group()[:m.start("s") - m.start()] + REDACTED + m.group()[m.end("s") - m.start():]
                          if m.group("s") else m.group(), text)
        else:
            text = rx.sub(REDACTED, text)
    return text


__all__ = ["PHONE_REGIONS", "PLACEHOLDER", "REDACTED", "SECRET_ENV_NAME", "mask_secrets", "scrub",
           "secret_env_values", "signature_entities"]
