"""Content briefs: the gaps worth a course, a brief for one, the forecast's back-test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Content briefs for new courses (agents/briefs).")


def _snapshot():
    from pathwise import snapshots

    try:
        return snapshots.require_current()
    except snapshots.SnapshotError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from e


@app.command("list")
def list_gaps(
    limit: Annotated[int, typer.Option(help="How many skills.")] = 20,
) -> None:
    """The skills with the widest unmet demand (content_gaps), widest first."""
    from agents import briefs

    con = _snapshot().connect()
    try:
        for g in briefs.gaps(con, limit):
            typer.echo(
                f"{g['gap_score']:.2f}  {g['skill_name']}  "
                f"({g['search_count']} searches, {g['course_count']} courses)"
            )
    finally:
        con.close()


@app.command("make")
def make(
    skill: Annotated[str, typer.Argument(help="The skill, as `pathwise brief list` names it.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder to write <skill>.md (and .pdf, .json) into.")
    ] = None,
    as_pdf: Annotated[bool, typer.Option("--pdf", help="Also write a PDF (needs --out).")] = False,
    polished: Annotated[
        bool,
        typer.Option(
            "--polish",
            help="Let the language model (PATHWISE_LLM_*) polish the prose; sentences whose "
            "facts it changes keep the template's wording.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Also write the brief as JSON.")] = False,
) -> None:
    """Write a content brief for SKILL: persona, outcomes, modules, demand, competition, evidence."""
    import dataclasses

    from agents import briefs

    snap = _snapshot()
    con = snap.connect()
    try:
        brief = briefs.generate(con, skill, snap.version, polished=polished)
    except KeyError as e:
        typer.echo(e.args[0], err=True)
        raise typer.Exit(1) from e
    finally:
        con.close()
    for notice in brief.notices:
        typer.secho(f"Notice: {notice}", fg="yellow", err=True)
    text = briefs.markdown(brief)
    if out is None:
        if as_pdf or as_json:
            typer.echo("--pdf and --json need --out FOLDER", err=True)
            raise typer.Exit(2)
        typer.echo(text)
        return
    out.mkdir(parents=True, exist_ok=True)
    stem = out / brief.skill_key.replace(" ", "-")
    written = [stem.with_suffix(".md")]
    written[0].write_text(text)
    if as_pdf:
        written.append(stem.with_suffix(".pdf"))
        written[-1].write_bytes(briefs.pdf(brief))
    if as_json:
        written.append(stem.with_suffix(".json"))
        written[-1].write_text(json.dumps(dataclasses.asdict(brief), indent=2, default=str))
    typer.echo("\n".join(str(p) for p in written))


@app.command("backtest")
def backtest(
    ratings: Annotated[
        Path | None,
        typer.Option(help="Coursera ratings CSV (default: under PATHWISE_SHARED_DATA)."),
    ] = None,
) -> None:
    """Back-test the demand forecast on weekly Coursera ratings (dev/test split by course)."""
    from agents.briefs import backtest as bt

    result = bt.run(ratings)
    typer.echo(json.dumps(result, indent=2))
