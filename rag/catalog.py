"""Catalog course and module descriptions from the warehouse, as documents to index.

Reads the catalog marts (`courses`, `course_modules`, `course_skills`, the inputs of the
`rag_index` exposure) and falls back to the raw catalog tables before the first
`pathwise build`. The connection is read-only and closed as soon as the rows are fetched.
"""

from __future__ import annotations

from pathwise.settings import Settings, get_settings
from rag.content import Document, catalog_documents

MARTS = {
    "courses": "select course_id, course_title as title, course_description as description, "
    "category, difficulty_label as difficulty, language, primary_format from marts.courses",
    "modules": "select course_id, module_id, module_position as position, module_title as title, "
    "duration_minutes from marts.course_modules",
    "skills": "select course_id, skill_name as skill from marts.course_skills",
}
RAW = {
    "courses": "select course_id, title, description, category, difficulty, language, "
    "primary_format from raw.catalog_courses",
    "modules": "select course_id, module_id, position, title, duration_minutes "
    "from raw.catalog_modules",
    "skills": "select course_id, skill from raw.catalog_course_skills",
}


def _rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def warehouse_catalog_documents(settings: Settings | None = None) -> list[Document] | None:
    """One document per catalog course, or None when there is no warehouse or no catalog."""
    import duckdb

    from pathwise.warehouse import connect

    s = settings or get_settings()
    if not s.warehouse_path.exists():
        return None
    with connect(read_only=True, settings=s) as con:
        data = None
        for queries in (MARTS, RAW):
            try:
                data = {k: _rows(con, q) for k, q in queries.items()}
                break
            except duckdb.CatalogException:
                continue
    if not data or not data["courses"]:
        return None
    skills: dict[str, list[str]] = {}
    for r in data["skills"]:
        skills.setdefault(str(r["course_id"]), []).append(str(r["skill"]))
    courses = [
        {**c, "skills": ", ".join(sorted(skills.get(str(c["course_id"]), [])))}
        for c in data["courses"]
    ]
    return catalog_documents(courses, data["modules"], source="warehouse")
