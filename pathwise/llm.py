"""The one way out to a language model: an OpenAI-compatible chat client built from settings
(`PATHWISE_LLM_*`), and the one error its callers fall back on.

Course Q&A (rag/answer.py), onboarding's slot extraction (agents/paths/llm_slots.py) and the
content briefs' polish (agents/briefs/polish.py) call it, so all reach the endpoint the same way: over verified HTTPS, or plain http only to a host in
`PATHWISE_ALLOW_PLAINTEXT_HOSTS` (pathwise/tls.py), no retries (the offline answer is the retry:
a fallback now beats a late reply), and every failure turned into `LLMUnusable` with a reason a
learner may read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pathwise.settings import Settings
from pathwise.tls import OutgoingRefused, check_outgoing, outgoing_ssl_context

if TYPE_CHECKING:
    from openai import OpenAI

log = logging.getLogger("pathwise.llm")


class LLMUnusable(RuntimeError):
    """The endpoint failed, timed out, or gave a reply we cannot use (the message says which, in
    words a learner may read)."""


def chat_client(settings: Settings, logger: logging.Logger = log) -> OpenAI:
    """A client for `settings.llm_base_url`, refused (LLMUnusable) when the connection would not
    be encrypted and verified (what to set goes to the operator's log: `logger`, the caller's)."""
    from openai import DefaultHttpxClient, OpenAI

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    try:  # checked on the address the client resolved (OPENAI_BASE_URL or OpenAI's if unset)
        client = OpenAI(
            base_url=settings.llm_base_url,
            api_key=key,
            timeout=settings.llm_timeout_s,
            max_retries=0,
            http_client=DefaultHttpxClient(verify=outgoing_ssl_context(settings)),
        )
        check_outgoing(str(client.base_url), "PATHWISE_LLM_BASE_URL", settings)
    except OutgoingRefused as e:
        logger.error("%s", e)  # what to set goes to the operator; the user gets a notice
        raise LLMUnusable(
            "the language model's connection is not encrypted and verified, so it was not asked"
        ) from e
    return client


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn the client's errors (timeout, HTTP status, connection) into `LLMUnusable`."""
    import openai

    try:
        yield
    except openai.APITimeoutError as e:
        raise LLMUnusable("the language model timed out") from e
    except openai.APIStatusError as e:
        raise LLMUnusable(f"the language model returned HTTP {e.status_code}") from e
    except openai.APIError as e:
        raise LLMUnusable(f"the language model could not be reached ({type(e).__name__})") from e
