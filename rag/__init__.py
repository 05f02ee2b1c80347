"""Course Q&A over LanceDB: index course content, retrieve passages, answer with citations.

`from rag import ask` is the learner app's entry point (see docs/rag.md); `pathwise index`,
`pathwise ask` and `pathwise evaluate rag` are the commands. Importing this package is cheap: the
Q&A modules (LanceDB alone takes seconds to import) load on the first question, so a page that
imports `ask` renders without waiting for them (the app loads them in the background: apps.warm).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.api import Answer
    from rag.retrieve import Passage

__all__ = ["Answer", "Passage", "ask"]


def ask(question: str, course_id: str | None = None, **options: Any) -> Answer:
    """`rag.api.ask` (see there), its modules imported on the first call."""
    from rag.api import ask as answer

    return answer(question, course_id, **options)


def __getattr__(name: str) -> Any:
    """`Answer` and `Passage`, imported when first asked for."""
    if name == "Answer":
        from rag.api import Answer

        return Answer
    if name == "Passage":
        from rag.retrieve import Passage

        return Passage
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
