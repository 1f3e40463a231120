"""Scrub personal data from free text before anything is stored.

Regex-level: emails, phone numbers, card-like numbers, account ids, API tokens and secrets, URLs
carrying tokens, and sign-offs (the signature block after "Thanks," / "Best," ...). Each kind is
replaced by a typed placeholder such as ``[EMAIL]`` so a reviewer still sees what was there.
"""

from __future__ import annotations

import re

_RULES: list[tuple[str, re.Pattern]] = [
    ("URL", re.compile(r"https?://\S*(?:token|sig|key|secret|auth|code)=\S*", re.I)),
    ("EMAIL", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("API_KEY", re.compile(r"\b(?:ll|sk|pk|rk|whsec)_(?:live|test|rk)?_?[A-Za-z0-9]{12,}\b")),
    ("CARD", re.compile(r"\b\d(?:[ -]?\d){12,18}\b")),
    ("ACCOUNT", re.compile(r"\b(?:acct|cus|sub|in|org)_[A-Za-z0-9]{6,}\b")),
    ("PHONE", re.compile(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{2,4}[\s.-]\d{3,4}(?:[\s.-]\d{2,4})?")),
]
_SIGNOFF = re.compile(r"\n\s*(?:thanks|thank you|best|cheers|regards|kind regards|many thanks)[,!.]?\s*\n.*\Z",
                      re.I | re.S)


def signature_entities(text: str) -> list[tuple[str, str]]:
    """Names and companies read off a sign-off block: its first line is a person, and the parts of a
    ``Title, Company`` line are a title and a company. Returned as (kind, value), longest first."""
    m = _SIGNOFF.search(text)
    if not m:
        return []
    lines = [ln.strip() for ln in m.group(0).strip().splitlines()[1:] if ln.strip()]
    found: list[tuple[str, str]] = []
    for i, line in enumerate(lines[:3]):
        if any(rx.search(line) for _, rx in _RULES):
            continue
        if i == 0:
            found.append(("NAME", line))
            found += [("NAME", part) for part in line.split() if len(part) > 2]
        elif "," in line:
            found.append(("COMPANY", line.split(",", 1)[1].strip()))
    return sorted(set(found), key=lambda kv: -len(kv[1]))


def scrub(text: str, extra_entities: list[tuple[str, str]] | None = None) -> str:
    """``text`` with personal data replaced by ``[KIND]`` placeholders and the sign-off block dropped.

    Names and companies found in the sign-off (plus ``extra_entities``) are replaced wherever they
    appear in the text, e.g. "This is for Pinegrove Legal" -> "This is for [COMPANY]".
    """
    entities = signature_entities(text) + list(extra_entities or [])
    text = _SIGNOFF.sub("\n[SIGNATURE]", text)
    for kind, value in entities:
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", f"[{kind}]", text)
    for kind, rx in _RULES:
        text = rx.sub(f"[{kind}]", text)
    return text
