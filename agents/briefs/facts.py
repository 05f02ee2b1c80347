"""The facts of a text, compared: what keeps a polished brief true to its evidence.

A fact is a number (as a value: "1,204", "1204" and "1204.0" are one fact; "72%" is 72) or a name
the platform knows (a catalog course, a skill, an occupation). `check(original, rewrite, names)`
passes only when the rewrite states exactly the numbers of the original, each as often, and names
nothing known that the original does not; otherwise it says what changed. Spelled-out numbers
("three") are not read: a rewrite that spells a number drops a digit fact and fails.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal, InvalidOperation

# A number not glued to a word before it (ids like E3 or v2026… are not numbers of the prose).
NUMBER = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?")
ORDINAL = re.compile(r"^\s*\d+\.\s", re.MULTILINE)  # a Markdown list item's number


def numbers(text: str) -> Counter[str]:
    """The numbers in `text` as canonical values, with how often each appears."""
    found: Counter[str] = Counter()
    for token in NUMBER.findall(ORDINAL.sub("", text)):
        cleaned = token.replace(",", "").replace("−", "-").lstrip("+").rstrip(".")
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            continue
        found[format(abs(value).normalize(), "f")] += 1  # a sign is wording ("+3", "3 more")
    return found


def named(text: str, names: set[str]) -> set[str]:
    """The known `names` that `text` mentions (whole words, any case)."""
    lowered = f" {text.lower()} "
    return {n for n in names if re.search(rf"(?<![\w]){re.escape(n.lower())}(?![\w])", lowered)}


def check(original: str, rewrite: str, names: set[str]) -> str | None:
    """None if `rewrite` keeps the facts of `original`; else what it changed, in a few words."""
    before, after = numbers(original), numbers(rewrite)
    if before != after:
        added = sorted((after - before).elements())
        dropped = sorted((before - after).elements())
        parts = [
            f"added {', '.join(added)}" if added else "",
            f"dropped {', '.join(dropped)}" if dropped else "",
        ]
        return "numbers changed: " + "; ".join(p for p in parts if p)
    new_names = named(rewrite, names) - named(original, names)
    if new_names:
        return f"names not in the evidence: {', '.join(sorted(new_names))}"
    return None
