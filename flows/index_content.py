"""Index course content for Q&A: lessons and books on disk plus the catalog in the warehouse.

`index_content_flow(paths)` reads the given files or folders (default: the course content under
`PATHWISE_SHARED_DATA/content`) and, when no paths are given and a warehouse exists, the catalog's
course and module descriptions. Only new or changed documents are embedded; documents gone from
a folder that was indexed whole are deleted; the full-text index is refreshed after the load.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from pathwise.settings import get_settings
from rag.content import Document, load_documents, prune_prefixes


@task
def read_content(paths: list[str]) -> list[Document]:
    """Parse lesson files (Markdown, CNXML, catalog CSVs) into sectioned documents."""
    return list(load_documents(paths))


@task
def read_catalog() -> list[Document] | None:
    """Catalog course and module descriptions from the warehouse (None without a warehouse)."""
    from rag.catalog import warehouse_catalog_documents

    return warehouse_catalog_documents()


@task
def write_index(docs: list[Document], prefixes: list[str], progress: bool) -> dict[str, Any]:
    """Embed and store what changed, delete what is gone, refresh the full-text index."""
    from rag.retrieve import forget_retrievers
    from rag.store import index_documents

    summary = index_documents(docs, prune_prefixes=prefixes, progress=progress)
    forget_retrievers()
    return summary


@flow(name="index-content")
def index_content_flow(paths: list[str] | None = None, progress: bool = False) -> dict[str, Any]:
    """Index course content into LanceDB under PATHWISE_HOME/lancedb; returns a summary."""
    logger = get_run_logger()
    default = paths is None
    paths = paths or [str(get_settings().shared_data / "content")]
    docs = read_content(paths)
    prefixes = prune_prefixes(paths)
    if default:
        catalog = read_catalog()
        if catalog is not None:
            docs += catalog
            prefixes.append("catalog/")  # the whole catalog was read: courses gone are deleted
    summary = write_index(docs, prefixes, progress)
    logger.info(
        "indexed %s documents: %s added, %s updated, %s deleted, %s unchanged; %s chunks",
        summary["documents_seen"],
        summary["documents_added"],
        summary["documents_updated"],
        summary["documents_deleted"],
        summary["documents_unchanged"],
        summary["chunks_total"],
    )
    return summary


if __name__ == "__main__":
    print(index_content_flow())
