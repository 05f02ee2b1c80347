"""A brief as Markdown and as PDF (fpdf2: pure Python, its built-in Helvetica, no system font).

Both show the same text: each section's sentences with their evidence ids in brackets, the
modules as a numbered list, then the evidence itself, one item per id with its source.
"""

from __future__ import annotations

from agents.briefs.compose import SECTIONS, Brief

# Helvetica in a PDF holds Latin-1 only: the few other characters the templates and names use.
_LATIN1 = str.maketrans(
    {"–": "-", "—": "-", "−": "-", "×": "x", "≥": ">=", "’": "'", "“": '"', "”": '"', "…": "..."}
)


def _cites(ids: tuple[str, ...]) -> str:
    return f" [{', '.join(ids)}]" if ids else ""


def _blocks(brief: Brief) -> list[tuple[str, list[str]]]:
    """(heading, lines) per section, in order; a module line is 'title - N min'."""
    out = []
    for name, heading in SECTIONS.items():
        lines = [c.text + _cites(c.evidence) for c in brief.section(name)]
        if name == "modules":
            lines = [f"{m.title} - {m.minutes} min" for m in brief.modules] + lines
        out.append((heading, lines))
    return out


def markdown(brief: Brief) -> str:
    parts = [f"# {brief.title}", ""]
    parts.append(
        f"Content brief for **{brief.skill_name}**, generated from snapshot `{brief.snapshot}`"
        + (
            f", prose polished by `{brief.polished_by}` (facts checked)"
            if brief.polished_by
            else ""
        )
        + ". Bracketed ids point to the evidence at the end."
    )
    for notice in brief.notices:
        parts += ["", f"> {notice}"]
    for heading, lines in _blocks(brief):
        parts += ["", f"## {heading}", ""]
        if heading == SECTIONS["modules"]:
            parts += [f"{i}. {line}" for i, line in enumerate(lines[: len(brief.modules)], 1)]
            parts += ["", *lines[len(brief.modules) :]]
        elif heading in (SECTIONS["outcomes"], SECTIONS["competition"]):
            parts += [f"- {line}" for line in lines]
        else:
            parts.append(" ".join(lines))
    parts += ["", "## Evidence", ""]
    parts += [f"- **{e.id}** ({e.source}): {e.text}" for e in brief.evidence]
    return "\n".join(parts) + "\n"


def pdf(brief: Brief) -> bytes:
    from fpdf import FPDF

    doc = FPDF(format="A4")
    doc.set_title(brief.title.translate(_LATIN1))
    doc.set_creator("Pathwise content briefs")
    doc.set_auto_page_break(auto=True, margin=15)
    doc.add_page()

    def write(text: str, size: int = 10, style: str = "", gap: float = 1.5) -> None:
        doc.set_font("helvetica", style, size)
        doc.multi_cell(
            0,
            size * 0.5,
            text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        doc.ln(gap)

    write(brief.title, 16, "B", 2)
    write(f"Content brief for {brief.skill_name}, generated from snapshot {brief.snapshot}.", 9)
    for notice in brief.notices:
        write(notice, 9, "I")
    for heading, lines in _blocks(brief):
        write(heading, 12, "B", 1)
        if heading == SECTIONS["modules"]:
            for i, line in enumerate(lines[: len(brief.modules)], 1):
                write(f"{i}. {line}", gap=0.5)
            lines = lines[len(brief.modules) :]
        for line in lines:
            bullet = heading in (SECTIONS["outcomes"], SECTIONS["competition"])
            write(("- " if bullet else "") + line, gap=0.8)
    write("Evidence", 12, "B", 1)
    for e in brief.evidence:
        write(f"{e.id} ({e.source}): {e.text}", 8, gap=0.5)
    return bytes(doc.output())
