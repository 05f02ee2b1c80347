"""Course content -> clean text chunks along the document's own sections.

Formats: Markdown lessons (Software Carpentry episodes: front matter, `:::` blocks, fenced code),
OpenStax CNXML modules (chapters from the book's collection XML), and catalog descriptions
(`courses.csv` / `modules.csv` as in docs/catalog.md, or rows read from the warehouse).

Every chunk carries course / module / section / source metadata and the hash of the document it
came from, so re-indexing can skip documents whose bytes did not change.
"""

from __future__ import annotations

import csv
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Bump when cleaning, chunking or how passages are embedded changes: every document hash
# changes, so everything re-indexes (6: passages embedded on their first 128 word pieces;
# 7: each lesson's objectives, questions and key points kept as lesson descriptors).
CHUNKER_VERSION = "7"
MAX_WORDS = 220  # longer sections are split at paragraphs
MIN_WORDS = 4
MERGE_WORDS = 40
SENTENCE_MIN_WORDS = 3  # a section's last part shorter than this joins the part before it
# Sections that only restate others (learning objectives, chapter summaries) are not indexed as
# passages; a lesson's learning objectives are kept as its descriptors (Document.about).
SUMMARY_TITLES = frozenset({"learning objectives", "chapter summary", "summary"})
OBJECTIVES = "learning objectives"
ABOUT_SUFFIX = "#lesson"  # chunk id of a lesson's descriptor rows in the sentences table

CNX = "{http://cnx.rice.edu/cnxml}"
COL = "{http://cnx.rice.edu/collxml}"
MD = "{http://cnx.rice.edu/mdml}"


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    parent: str = ""  # enclosing heading, for context


@dataclass
class Document:
    doc_id: str
    course_id: str
    course_title: str
    module: str
    source: str
    sections: list[Section]
    content_hash: str
    chapter: str = ""
    # What the lesson says it teaches, in the learner's terms: Carpentries objectives, questions
    # and key points, OpenStax learning objectives. Never passages (they would be cited instead
    # of the section that explains); they point retrieval at the lesson (rag.content.about_rows).
    about: list[str] = field(default_factory=list)


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    doc_hash: str
    course_id: str
    course_title: str
    module: str
    section: str
    source: str
    position: int
    text: str
    search_text: str  # context header + text: what is embedded and full-text indexed


def _hash(*parts: str | bytes) -> str:
    h = hashlib.sha256(CHUNKER_VERSION.encode())
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


# ---------------------------------------------------------------------------------------------
# Markdown (Carpentries episodes and plain lessons)

_FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
_DIV = re.compile(r"^:{3,}\s*([\w-]*)\s*:*\s*$")
_HEADING = re.compile(r"^(#{1,4})\s+(.*?)\s*#*\s*$")
# Blocks whose headings belong to the section around them (answers, hints).
_INLINE_BLOCKS = {"solution", "hint", "spoiler", "instructor"}
_SKIP_BLOCKS = {"instructor"}  # notes for teachers, not learners
_SUMMARY_BLOCKS = {"objectives": "Overview", "questions": "Overview", "keypoints": "Key points"}
_DROP_CODE = {"output", "error", "warning"}


def clean_markdown_inline(text: str) -> str:
    """Markdown/HTML markup -> plain text (keeps link text and inline code)."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?", " ", text)  # images (+ attributes)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links
    text = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text)  # reference links
    text = re.sub(r"\{[:.#][^}]*\}", " ", text)  # kramdown attributes
    text = re.sub(r"<[^>]+>", " ", text)  # html tags (<kbd>, <br>)
    # Emphasis markers go, but not inside `code` (where * and _ are wildcards and names).
    parts = re.split(r"(`[^`]*`)", text)
    for i in range(0, len(parts), 2):
        p = re.sub(r"(\*\*|__)(.+?)\1", r"\2", parts[i])
        p = re.sub(r"(?<![\w*])[*_](\S[^*_]*?)[*_](?![\w*])", r"\1", p)
        parts[i] = p.replace("\\", "")
    text = "".join(parts)
    return re.sub(r"[ \t]+", " ", text).strip()


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end < 0:
        return {}, text
    meta = {}
    for line in text[3:end].splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            meta[k.strip()] = v.strip().strip("'\"")
    return meta, text[end + 4 :]


def parse_markdown(text: str, default_title: str) -> tuple[str, list[Section], list[str]]:
    """Split a Markdown lesson into (title, sections, about) along its headings; `about` holds
    the items of its objectives, questions and key points blocks."""
    meta, body = _front_matter(text)
    title = meta.get("title", default_title)
    sections: list[Section] = [Section(title="Introduction")]
    summary: dict[str, Section] = {}
    blocks: list[str] = []  # open ::: blocks
    para: list[str] = []
    code: list[str] | None = None
    code_kind = ""
    h2 = ""

    def target() -> Section:
        kinds = [b for b in blocks if b in _SUMMARY_BLOCKS]
        if kinds:
            name = _SUMMARY_BLOCKS[kinds[-1]]
            return summary.setdefault(name, Section(title=name))
        return sections[-1]

    def flush() -> None:
        if para and not any(b in _SKIP_BLOCKS for b in blocks):
            joined = clean_markdown_inline(" ".join(para))
            if joined:
                target().paragraphs.append(joined)
        para.clear()

    for line in body.splitlines():
        if code is not None:
            if _FENCE.match(line.strip()):
                if (
                    code_kind not in _DROP_CODE
                    and code
                    and not any(b in _SKIP_BLOCKS for b in blocks)
                ):
                    target().paragraphs.append("\n".join(code))
                code = None
            else:
                code.append(line.rstrip())
            continue
        stripped = line.strip()
        if m := _FENCE.match(stripped):
            flush()
            code, code_kind = [], m.group(2).lower()
            continue
        if m := _DIV.match(stripped):
            flush()
            if m.group(1):
                blocks.append(m.group(1).lower())
            elif blocks:
                blocks.pop()
            continue
        if (m := _HEADING.match(stripped)) and not any(
            b in _INLINE_BLOCKS or b in _SUMMARY_BLOCKS for b in blocks
        ):
            flush()
            heading = clean_markdown_inline(m.group(2))
            level = len(m.group(1))
            parent = h2 if level >= 3 else ""
            if level <= 2:
                h2 = heading
            sections.append(Section(title=heading, parent=parent))
            continue
        if m := _HEADING.match(stripped):  # a heading inside a solution: keep its words
            flush()
            para.append(m.group(2))
            flush()
            continue
        if not stripped:
            flush()
            continue
        item = re.match(r"^\s*(?:[-*+]|\d+\.)\s+", line)
        if item and any(b in _SUMMARY_BLOCKS for b in blocks):
            flush()  # one descriptor per objective, question or key point
        para.append(line[item.end() if item else 0 :].strip())
    flush()
    # Objectives, questions and key points only restate the sections: as passages they would
    # outrank the passage that actually explains, so they are the lesson's descriptors instead.
    about = [p for s in summary.values() for p in s.paragraphs]
    return title, [s for s in sections if s.paragraphs], about


# ---------------------------------------------------------------------------------------------
# CNXML (OpenStax)


def _cnx_text(el: ET.Element) -> str:
    """Readable text of a CNXML element: paragraphs, list items, code and table rows."""
    out: list[str] = []

    def walk(e: ET.Element) -> None:
        tag = e.tag.replace(CNX, "")
        if tag in {"media", "iframe", "image", "figure", "title"} and e is not el:
            if tag == "figure":
                caps = e.findall(f".//{CNX}caption")
                out.extend(" ".join("".join(c.itertext()).split()) for c in caps)
            return
        if tag in {"para", "item", "entry", "caption"} or (
            tag == "code"
            and e.get("display") != "inline"
            and "inline-code" not in (e.get("class") or "")
        ):
            text = "".join(e.itertext())
            text = text if tag == "code" else " ".join(text.split())
            if text.strip():
                out.append(text.strip())
            return
        if tag == "row":
            cells = [" ".join("".join(c.itertext()).split()) for c in e]
            out.append(" | ".join(c for c in cells if c))
            return
        if tag == "note":
            title = e.find(f"{CNX}title")
            if title is not None and title.text:
                out.append(title.text.strip() + ":")
        for child in e:
            walk(child)

    walk(el)
    return "\n".join(out)


def parse_cnxml(data: bytes) -> tuple[str, list[Section], list[str]]:
    """Split a CNXML module into (title, sections, about) along its <section> elements; `about`
    holds the items of its learning objectives."""
    root = ET.fromstring(data)
    title_el = root.find(f"{CNX}title")
    title = " ".join((title_el.text or "").split()) if title_el is not None else "Untitled"
    content = root.find(f"{CNX}content")
    if content is None:
        return title, [], []
    sections: list[Section] = [Section(title="Introduction")]
    about: list[str] = []
    if title.lower() in SUMMARY_TITLES:
        return title, [], []

    def add(sec: ET.Element, parent: str) -> None:
        t = sec.find(f"{CNX}title")
        name = " ".join("".join(t.itertext()).split()) if t is not None else ""
        name = name or parent or title  # untitled sections (chapter summaries) take the module's
        if name.lower() in SUMMARY_TITLES:
            if name.lower() == OBJECTIVES:
                about.extend(
                    " ".join("".join(i.itertext()).split()) for i in sec.iter(f"{CNX}item")
                )
            return
        current = Section(title=name, parent=parent)
        sections.append(current)
        for child in sec:
            if child.tag == f"{CNX}section":
                add(child, name)
            elif child.tag != f"{CNX}title":
                text = _cnx_text(child)
                if text:
                    current.paragraphs.append(text)

    for child in content:
        if child.tag == f"{CNX}section":
            add(child, "")
        else:
            text = _cnx_text(child)
            if text:
                # Text after a section closes continues the last one; before any, the intro.
                sections[-1 if len(sections) > 1 else 0].paragraphs.append(text)
    return title, [s for s in sections if s.paragraphs], [a for a in about if a]


def _collection_chapters(collection: Path) -> tuple[str, dict[str, str]]:
    """Book title and module id -> "chapter title" from an OpenStax collection XML."""
    root = ET.parse(collection).getroot()
    book = root.find(f"{COL}metadata/{MD}title")
    chapters: dict[str, str] = {}
    for n, sub in enumerate(root.iter(f"{COL}subcollection"), 1):
        t = sub.find(f"{MD}title")
        for mod in sub.iter(f"{COL}module"):
            chapters[mod.get("document", "")] = f"{n} {t.text if t is not None else ''}".strip()
    return (book.text if book is not None else collection.stem), chapters


# ---------------------------------------------------------------------------------------------
# Catalog descriptions


def catalog_documents(
    courses: Iterable[dict], modules: Iterable[dict], source: str
) -> list[Document]:
    """One document per catalog course: its description plus the titles of its modules."""
    by_course: dict[str, list[dict]] = {}
    for m in modules:
        by_course.setdefault(str(m["course_id"]), []).append(m)
    docs = []
    for c in courses:
        cid, title = str(c["course_id"]), str(c.get("title") or c["course_id"])
        sections = []
        if c.get("description"):
            sections.append(Section("Course description", [str(c["description"]).strip()]))
        facts = [
            f"{k.replace('_', ' ').capitalize()}: {c[k]}"
            for k in ("category", "difficulty", "language", "primary_format", "skills", "syllabus")
            if c.get(k) not in (None, "")
        ]
        if facts:
            sections.append(Section("About this course", ["\n".join(facts)]))
        mods = sorted(by_course.get(cid, []), key=lambda m: int(m.get("position") or 0))
        if mods:
            lines = [
                f"Module {m.get('position')}: {m.get('title') or m['module_id']}"
                + (
                    f" ({float(m['duration_minutes']):.0f} min)"
                    if m.get("duration_minutes")
                    else ""
                )
                for m in mods
            ]
            sections.append(Section("Modules", ["\n".join(lines)]))
        if not sections:
            continue
        payload = repr(sorted((k, str(v)) for k, v in c.items() if k != "loaded_at"))
        payload += repr(
            [sorted((k, str(v)) for k, v in m.items() if k != "loaded_at") for m in mods]
        )
        docs.append(
            Document(
                doc_id=f"catalog/{cid}",
                course_id=cid,
                course_title=title,
                module="Course overview",
                source=f"{source}#{cid}",
                sections=sections,
                content_hash=_hash(payload),
            )
        )
    return docs


def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------
# Finding documents


def _course_root(path: Path) -> Path:
    """The folder that is one course: holds `episodes/` or a collection XML, else the parent."""
    for parent in path.parents:
        if (parent / "episodes").is_dir() or any(parent.glob("*.collection.xml")):
            return parent
    return path.parent


def _title_from_slug(slug: str) -> str:
    return re.sub(r"[-_]+", " ", slug).strip().capitalize()


def load_documents(paths: Iterable[str | Path]) -> Iterator[Document]:
    """Every course document under the given files or folders (sorted, deterministic)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p} does not exist: pass lesson files or folders")
        files.extend(sorted(p.rglob("*")) if p.is_dir() else [p])
    books: dict[Path, tuple[str, dict[str, str]]] = {}
    for f in files:
        name = f.name.lower()
        if (
            not f.is_file()
            or name.startswith(".")
            or name in {"license.md", "readme.md", "source_commit.txt"}
        ):
            continue
        if f.suffix.lower() == ".cnxml":
            course = _course_root(f)
            if course not in books:
                cols = sorted(course.glob("*.collection.xml"))
                books[course] = _collection_chapters(cols[0]) if cols else (course.name, {})
            book, chapters = books[course]
            data = f.read_bytes()
            title, sections, about = parse_cnxml(data)
            mod_id = f.parent.name if f.stem == "index" else f.stem
            chapter = chapters.get(mod_id, "")
            yield Document(
                doc_id=f"{course.name}/{f.relative_to(course).as_posix()}",
                course_id=course.name,
                course_title=book,
                module=title,
                source=f"{course.name}/{f.relative_to(course).as_posix()}",
                sections=sections,
                content_hash=_hash(data, chapter),
                chapter=chapter,
                about=about,
            )
        elif f.suffix.lower() in {".md", ".markdown", ".txt"} and name != "reference.md":
            course = _course_root(f)
            data = f.read_bytes()
            title, sections, about = parse_markdown(
                data.decode("utf-8", "replace"), _title_from_slug(f.stem)
            )
            rel = f"{course.name}/{f.relative_to(course).as_posix()}"
            yield Document(
                doc_id=rel,
                course_id=course.name,
                course_title=_title_from_slug(course.name),
                module=title,
                source=rel,
                sections=sections,
                content_hash=_hash(data),
                about=about,
            )
        elif name == "courses.csv":
            mods = f.with_name("modules.csv")
            yield from catalog_documents(
                _read_csv(f), _read_csv(mods) if mods.exists() else [], f.as_posix()
            )


# ---------------------------------------------------------------------------------------------
# Chunking


def _split_words(paragraphs: list[str], max_words: int) -> list[str]:
    """Greedy packing of paragraphs into parts of at most ~max_words (long paragraphs split)."""
    parts: list[str] = []
    current: list[str] = []
    count = 0
    for p in paragraphs:
        words = p.split()
        if len(words) > max_words:  # one huge paragraph (a long code block): cut it
            pieces = [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]
        else:
            pieces = [p]
        for piece in pieces:
            n = len(piece.split())
            if current and count + n > max_words:
                parts.append("\n".join(current))
                current, count = [], 0
            current.append(piece)
            count += n
    if current:
        if parts and count < MERGE_WORDS:
            parts[-1] += "\n" + "\n".join(current)
        else:
            parts.append("\n".join(current))
    return parts


def chunk_document(doc: Document, max_words: int = MAX_WORDS) -> list[Chunk]:
    """Chunks along the document's sections; long sections become several chunks."""
    chunks: list[Chunk] = []
    for sec in doc.sections:
        for part in _split_words(sec.paragraphs, max_words):
            if len(part.split()) < MIN_WORDS:
                continue
            where = " > ".join(
                x for x in (doc.course_title, doc.chapter, doc.module, sec.parent, sec.title) if x
            )
            n = len(chunks)
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{n}",
                    doc_id=doc.doc_id,
                    doc_hash=doc.content_hash,
                    course_id=doc.course_id,
                    course_title=doc.course_title,
                    module=doc.module,
                    section=sec.title,
                    source=doc.source,
                    position=n,
                    text=part,
                    search_text=f"{where}\n{part}",
                )
            )
    return chunks


def sentences(text: str) -> list[str]:
    """Sentences and code lines of a passage (a code line stays whole)."""
    out = []
    for line in text.split("\n"):
        line = line.strip()
        if line:
            out.extend(
                x.strip() for x in re.split(r"(?<=[.!?])\s+(?=[A-Z`\"'(])", line) if x.strip()
            )
    return out


def sentence_rows(chunk: Chunk) -> list[dict[str, str]]:
    """The chunk's sentences, each prefixed with its section title, for sentence-level vectors:
    a question usually matches one or two sentences, which a whole-chunk vector dilutes."""
    return [
        {
            "sentence_id": f"{chunk.chunk_id}/{i}",
            "chunk_id": chunk.chunk_id,
            "doc_id": chunk.doc_id,
            "course_id": chunk.course_id,
            "text": f"{chunk.section}: {s}",
        }
        for i, s in enumerate(sentences(chunk.text))
        if len(s.split()) >= SENTENCE_MIN_WORDS
    ]


def about_rows(doc: Document) -> list[dict[str, str]]:
    """The lesson's descriptors for the sentences table: its title and what it says it teaches
    (Document.about), each prefixed with the title, under the chunk id `<doc_id>#lesson`, which
    no passage has. Retrieval reads their best cosine as the lesson's score: "a sequence that
    can't be changed" matches "Identify and discuss the mutability of a tuple" (Tuple basics)
    better than any of the lesson's passages."""
    if not doc.sections:
        return []
    texts = [doc.module, *(f"{doc.module}: {a}" for a in doc.about)]
    return [
        {
            "sentence_id": f"{doc.doc_id}{ABOUT_SUFFIX}/{i}",
            "chunk_id": f"{doc.doc_id}{ABOUT_SUFFIX}",
            "doc_id": doc.doc_id,
            "course_id": doc.course_id,
            "text": text,
        }
        for i, text in enumerate(dict.fromkeys(texts))
    ]


def fixed_word_chunks(doc: Document, size: int = 200) -> list[tuple[str, set[str]]]:
    """The baseline: fixed windows of `size` words over the whole document, ignoring structure.

    Returns (text, sections the window overlaps) so an evaluation can tell whether it hit.
    """
    words: list[tuple[str, str]] = [
        (w, s.title) for s in doc.sections for p in s.paragraphs for w in p.split()
    ]
    return [
        (" ".join(w for w, _ in words[i : i + size]), {s for _, s in words[i : i + size]})
        for i in range(0, len(words), size)
    ]


def prune_prefixes(paths: Iterable[str | Path]) -> list[str]:
    """doc_id prefixes that the given folders cover completely (documents under them that are no
    longer on disk can be deleted from the index). Single files cover nothing."""
    prefixes: set[str] = set()
    for p in map(Path, paths):
        if not p.is_dir():
            continue
        p = p.resolve()
        for f in p.rglob("*"):
            if f.suffix.lower() not in {".md", ".markdown", ".txt", ".cnxml"}:
                continue
            root = _course_root(f.resolve())
            if root == p or root in p.parents:
                rel = p.relative_to(root).as_posix()
                prefixes.add(f"{root.name}/" + ("" if rel == "." else f"{rel}/"))
            else:
                prefixes.add(f"{root.name}/")
    return sorted(prefixes)
