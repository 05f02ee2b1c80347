"""The one way Pathwise opens a chat model: any OpenAI-compatible endpoint from the settings
(`PATHWISE_LLM_BASE_URL`, `_MODEL`, `_API_KEY`, `_TIMEOUT_S`), over verified HTTPS (plain http only
to a host in `PATHWISE_ALLOW_PLAINTEXT_HOSTS`: pathwise/tls.py), never retried: every caller has an
offline answer to fall back to, and now beats late. Course Q&A (rag/answer.py) and content briefs
(agents/briefs/polish.py) use it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pathwise.settings import Settings
from pathwise.tls import OutgoingRefused, check_outgoing, outgoing_ssl_context

if TYPE_CHECKING:
    from openai import OpenAI

log = logging.getLogger("pathwise.llm")


class LLMUnusable(RuntimeError):
    """The endpoint failed, timed out, or gave an answer we cannot use."""


def chat_client(settings: Settings, logger: logging.Logger = log) -> OpenAI:
    """A client for the configured endpoint; LLMUnusable when the connection would not be
    encrypted and verified (what to set goes to the operator's log: `logger`, the caller's)."""
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
