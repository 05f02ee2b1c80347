"""Course Q&A: index the course content, ask a question."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

PANEL = "Course Q&A"
app = typer.Typer()


@app.command("index", rich_help_panel=PANEL)
def index_content(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Lesson files or folders (Markdown, OpenStax CNXML, catalog courses.csv). "
            "Default: the content under PATHWISE_SHARED_DATA plus the warehouse catalog."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Index course content for Q&A in LanceDB (only changed documents are re-embedded)."""
    from flows.index_content import index_content_flow

    result = index_content_flow(paths=[str(p) for p in paths] if paths else None, progress=True)
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        typer.echo(
            f"{result['documents_seen']} documents: {result['documents_added']} added, "
            f"{result['documents_updated']} updated, {result['documents_deleted']} deleted, "
            f"{result['documents_unchanged']} unchanged -> {result['chunks_total']} chunks "
            f"in {result['path']}"
        )


@app.command(rich_help_panel=PANEL)
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    course: Annotated[
        str | None, typer.Option("--course", help="Answer from this course only (course_id).")
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(help="'extractive' or 'openai' (default: PATHWISE_RAG_BACKEND)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Answer a question from the indexed course content, with citations."""
    from rag.api import ask as run
    from rag.api import render_answer
    from rag.retrieve import IndexMissing

    stream = None if as_json else (lambda t: typer.echo(t, nl=False))
    try:
        answer = run(question, course_id=course, backend=backend, on_token=stream)
    except IndexMissing as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from e
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), indent=2, default=str))
        return
    typer.echo("")
    if answer.notice:
        typer.secho(f"Notice: {answer.notice}", fg="yellow", err=True)
    typer.echo(render_answer(answer, text=False))
