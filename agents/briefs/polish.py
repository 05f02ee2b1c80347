"""The language model may polish a brief's prose; the facts stay those of the template.

The prose claims go to the chat endpoint (pathwise/llm.py) as one JSON object, id -> sentence,
with the instruction to keep every number and name; the reply must be the same object rewritten.
Each rewritten sentence is compared with its template (facts.check: the same numbers, no known
name the template lacks) and kept only if its facts are unchanged; otherwise the template stays
and the brief says which sentences and why. An endpoint that fails, times out or answers anything
but that JSON leaves the whole brief as the template wrote it, with a notice.
"""

from __future__ import annotations

import json
import logging
import re

from agents.briefs.compose import Brief
from agents.briefs.facts import check, named
from pathwise.llm import LLMUnusable, chat_client
from pathwise.settings import Settings

log = logging.getLogger("pathwise.agents.briefs")

POLISHED = ("summary", "persona", "outcomes", "demand", "competition")
SYSTEM = (
    "You edit course briefs for instructors. You receive a JSON object mapping ids to "
    "sentences. Rewrite each sentence to read well, in plain English. Keep every number exactly "
    "as written and every name as written; add no fact, number or name. Reply with only a JSON "
    "object with the same ids."
)


def _reply(settings: Settings, texts: dict[str, str]) -> dict[str, str]:
    import openai

    client = chat_client(settings, log)
    try:
        response = client.chat.completions.create(
            model=settings.llm_model,
            messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": json.dumps(texts, ensure_ascii=False)},
            ],
            temperature=0,
        )
    except openai.APITimeoutError as e:
        raise LLMUnusable("the language model timed out") from e
    except openai.APIError as e:
        raise LLMUnusable(f"the language model could not be used ({type(e).__name__})") from e
    content = (response.choices[0].message.content or "").strip()
    content = re.sub(r"^```(?:json)?\s*|\s*```$", "", content)  # a fenced reply is still JSON
    try:
        reply = json.loads(content)
    except json.JSONDecodeError as e:
        raise LLMUnusable("the language model's reply was not the JSON asked for") from e
    if not isinstance(reply, dict):
        raise LLMUnusable("the language model's reply was not the JSON asked for")
    return {str(k): v for k, v in reply.items() if isinstance(v, str)}


def polish(brief: Brief, settings: Settings, names: set[str]) -> Brief:
    """`brief` with the rewritten sentences whose facts held (in place; also returned).
    `names`: the names the platform knows (courses, skills, occupations) a rewrite may not add."""
    claims = [c for c in brief.claims if c.section in POLISHED]
    try:
        reply = _reply(settings, {c.id: c.text for c in claims})
    except LLMUnusable as e:
        brief.notices.append(f"Not polished: {e}; the template's wording stands.")
        return brief
    kept, refused = 0, []
    for c in claims:
        rewrite = reply.get(c.id)
        if not rewrite or rewrite.strip() == c.text:
            continue
        cited = " ".join(e.text for e in brief.evidence if e.id in c.evidence)
        problem = check(c.text, rewrite, names - named(cited, names))
        if problem:
            refused.append(f"{c.id} ({problem})")
            continue
        c.text = rewrite.strip()
        kept += 1
    brief.polished_by = settings.llm_model if kept else None
    if refused:
        brief.notices.append(
            f"Kept the template's wording for {len(refused)} sentence(s) whose facts the "
            f"language model changed: {'; '.join(refused)}."
        )
    return brief
