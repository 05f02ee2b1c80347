"""Course Q&A over LanceDB: index course content, retrieve passages, answer with citations.

`from rag import ask` is the learner app's entry point (see docs/rag.md); `pathwise index`,
`pathwise ask` and `pathwise evaluate rag` are the commands.
"""

from rag.api import Answer, ask
from rag.retrieve import Passage

__all__ = ["Answer", "Passage", "ask"]
