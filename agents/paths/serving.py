"""The learning-path agent as the app and the read API serve it: onboarding turn by turn, and the
first path planned the moment the conversation ends.

    agent = PathAgent(Knowledge.from_seeds())        # once per process (the role matcher: ~5 s)
    source = SnapshotSource(snapshots.current())     # once per published version (the catalog)
    agent.turn(source, learner_key, "I want to become a data analyst")  # -> reply, step, path

What is the same for everyone (the O*NET roles, their skills, the skill vocabulary) comes from the
reference seeds; what a learner has done (completed courses, learning style) and the catalog from
the published snapshot, as everything the app reads. What the learner says, the state of the
conversation, the goal and the path are kept in the path store (`pathwise/learning_paths.py`)
under their learner_key. Paths are stored as plain JSON (`path_to_dict`), which the read API
serves as it is and the nightly re-plan (`agents/paths/nightly.py`) reads back (`path_from_dict`).
"""

from __future__ import annotations

import csv
import re
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from agents.paths.catalog import load_catalog
from agents.paths.llm_slots import slot_extractor
from agents.paths.onboarding import Dialogue, State
from agents.paths.planner import Catalog, Goal, Step, plan, skill_key
from agents.paths.planner import Path as LearningPath
from agents.paths.roles import RoleMatcher
from pathwise.learning_paths import PathStore
from pathwise.settings import PROJECT_ROOT, get_settings
from pathwise.snapshots import Snapshot

SEEDS = PROJECT_ROOT / "seeds"
RESTART = re.compile(r"^\s*(start over|restart|change (my )?goal)\b", re.I)
STYLE_FORMAT = {"watcher": "video", "reader": "reading", "hands-on": "hands-on"}
STALLED = ("stalled", "dropped")


# ------------------------------------------------------------------ paths as plain data
def goal_to_dict(goal: Goal) -> dict:
    return {
        "role": goal.role,
        "skills": sorted(goal.skills),
        "skill_names": dict(sorted(goal.skill_names.items())),
        "hours_per_week": goal.hours_per_week,
        "start": goal.start.isoformat(),
        "target": goal.target and goal.target.isoformat(),
        "level": goal.level,
        "preferred_format": goal.preferred_format,
    }


def goal_from_dict(d: dict) -> Goal:
    return Goal(
        role=d["role"],
        skills=frozenset(d["skills"]),
        hours_per_week=d["hours_per_week"],
        start=date.fromisoformat(d["start"]),
        target=date.fromisoformat(d["target"]) if d.get("target") else None,
        level=d.get("level"),
        preferred_format=d.get("preferred_format"),
        skill_names=dict(d.get("skill_names", {})),
    )


def path_to_dict(path: LearningPath, done=(), avoid=(), known=()) -> dict:
    """The path as served, with what it was planned from (`planned_from`: the courses done and
    avoided and the skills known then, so the nightly re-plan knows what is new)."""
    steps = [
        {
            "course_id": s.course_id,
            "title": s.title,
            "covers": list(s.covers),
            "after": list(s.after),
            "hours": round(s.hours, 2),
            "start": s.start.isoformat(),
            "end": s.end.isoformat(),
            "reason": s.reason,
        }
        for s in path.steps
    ]
    return {
        "goal": goal_to_dict(path.goal),
        "steps": steps,
        "uncovered": list(path.uncovered),
        "total_hours": round(path.total_hours, 2),
        "finish": path.finish.isoformat(),
        "on_time": path.on_time,
        "planned_from": {"done": sorted(done), "avoid": sorted(avoid), "known": sorted(known)},
    }


def path_from_dict(d: dict) -> LearningPath:
    steps = tuple(
        Step(
            course_id=s["course_id"],
            title=s["title"],
            covers=tuple(s["covers"]),
            after=tuple(s["after"]),
            hours=s["hours"],
            start=date.fromisoformat(s["start"]),
            end=date.fromisoformat(s["end"]),
            reason=s["reason"],
        )
        for s in d["steps"]
    )
    return LearningPath(goal_from_dict(d["goal"]), steps, tuple(d["uncovered"]))


# ------------------------------------------------------------------ what the agent knows
@dataclass(frozen=True)
class Knowledge:
    """The same for every learner: occupations to match goals to, each one's skills, and the
    skill names to find in what learners say."""

    matcher: RoleMatcher
    role_skills: dict[str, tuple[str, ...]]  # onet_soc_code -> skill names
    vocabulary: tuple[str, ...]

    @classmethod
    def from_seeds(cls, folder: Path = SEEDS) -> Knowledge:
        with open(folder / "skills.csv", newline="") as f:
            names = {r["skill_id"]: r["skill_name"] for r in csv.DictReader(f)}
        role_skills: dict[str, list[str]] = {}
        with open(folder / "role_skills.csv", newline="") as f:
            for r in csv.DictReader(f):
                if r["skill_id"] in names:
                    role_skills.setdefault(r["onet_soc_code"], []).append(names[r["skill_id"]])
        return cls(
            RoleMatcher.from_seeds(folder),
            {code: tuple(sorted(set(s))) for code, s in role_skills.items()},
            tuple(sorted(names.values())),
        )


@dataclass(frozen=True)
class Facts:
    """What the published data says about one learner."""

    completed: tuple[str, ...]  # course ids
    statuses: dict[str, str]  # course id -> active, stalled, dropped, completed
    inferred: tuple[str, ...]  # skill names their completed courses teach
    style_format: str | None


def tables_of(con: duckdb.DuckDBPyConnection) -> set[str]:
    """`schema.table` of every table and view `con` sees."""
    rows = con.execute("select table_schema || '.' || table_name from information_schema.tables")
    return {r[0] for r in rows.fetchall()}


def learner_facts(
    con: duckdb.DuckDBPyConnection, schemas: dict[str, str], learner_key: str, tables: set[str]
) -> Facts:
    """From `learner_course_progress`, `course_skills`, `learning_styles` and `learners` (in the
    schemas named: `marts`/`ml` in the warehouse, `main` in a snapshot; a table not in `tables`
    is no fact)."""
    m, ml = schemas["marts"], schemas["ml"]

    def rows(table: str, sql: str) -> list[tuple]:
        return con.execute(sql, [learner_key]).fetchall() if table in tables else []

    statuses = dict(
        rows(
            f"{m}.learner_course_progress",
            f"select course_id, status from {m}.learner_course_progress where learner_key = ?",
        )
    )
    completed = tuple(sorted(c for c, s in statuses.items() if s == "completed"))
    skills = rows(
        f"{m}.course_skills",
        f"select distinct skill_name from {m}.course_skills where course_id in "
        f"(select course_id from {m}.learner_course_progress "
        "where learner_key = ? and status = 'completed') order by 1",
    )
    style = rows(
        f"{ml}.learning_styles", f"select style from {ml}.learning_styles where learner_key = ?"
    )
    stated = rows(
        f"{m}.learners", f"select preferred_format from {m}.learners where learner_key = ?"
    )
    fmt = STYLE_FORMAT.get(style[0][0]) if style else None
    if fmt is None and stated and stated[0][0] in STYLE_FORMAT.values():
        fmt = stated[0][0]
    return Facts(completed, statuses, tuple(s for (s,) in skills), fmt)


class SnapshotSource:
    """One published snapshot as the agent reads it: the catalog (loaded once) and, per learner,
    their facts. Safe to share between threads (a cursor per query)."""

    def __init__(self, snap: Snapshot) -> None:
        self.version = snap.version
        self._con = snap.connect()
        self.catalog: Catalog = load_catalog(self._con, get_settings().k_anonymity, schema="main")
        self.tables = tables_of(self._con)
        self.skill_names = tuple(
            r[0]
            for r in self._con.execute(
                "select distinct skill_name from course_skills order by 1"
            ).fetchall()
        )

    def facts(self, learner_key: str) -> Facts:
        cur = self._con.cursor()
        try:
            return learner_facts(cur, {"marts": "main", "ml": "main"}, learner_key, self.tables)
        finally:
            cur.close()


# ------------------------------------------------------------------ the agent, turn by turn
class PathAgent:
    """Onboarding turn by turn over the path store; the first path when the conversation ends."""

    def __init__(self, knowledge: Knowledge, store: PathStore | None = None) -> None:
        self.knowledge = knowledge
        self.store = store or PathStore()
        self._dialogues: dict[tuple[str, date], Dialogue] = {}
        self._lock = threading.Lock()

    def dialogue(self, source: SnapshotSource, today: date) -> Dialogue:
        """One per snapshot version and day (dates are read relative to today)."""
        key = (source.version, today)
        with self._lock:
            if key not in self._dialogues:
                words = sorted({*self.knowledge.vocabulary, *source.skill_names})
                # The language model reads the slots when configured (offline otherwise).
                extractor = slot_extractor(get_settings())
                self._dialogues = {
                    key: Dialogue(self.knowledge.matcher, words, today, extractor=extractor)
                }
            return self._dialogues[key]

    def turn(
        self, source: SnapshotSource, learner_key: str, text: str | None, today: date | None = None
    ) -> dict:
        """The learner said `text` (None: nothing yet, show where the conversation is). Returns
        the agent's reply, the step reached, and the path once planned."""
        today = today or date.today()
        dialogue = self.dialogue(source, today)
        saved = self.store.onboarding(learner_key)
        restart = bool(text and RESTART.match(text))
        if saved is None or restart:
            if restart:
                self.store.restart_onboarding(learner_key)
            facts = source.facts(learner_key)
            state, reply = dialogue.start(facts.inferred, facts.style_format)
            self.store.save_onboarding(learner_key, state.to_dict(), [("agent", reply)])
            if text is None or restart:
                return self._answer(learner_key, state, reply)
            saved = state.to_dict()
        state = State.from_dict(saved)
        if not text or not text.strip():
            said = self.store.turns(learner_key)
            last = next((t["text"] for t in reversed(said) if t["speaker"] == "agent"), "")
            return self._answer(learner_key, state, last)
        new, reply = dialogue.turn(state, text)
        said = [("learner", text.strip()), ("agent", reply)]
        if new.step == "done" and state.step != "done":
            said.append(("agent", self._plan_first(source, learner_key, new, today)))
            reply = f"{reply} {said[-1][1]}"
        self.store.save_onboarding(learner_key, new.to_dict(), said)
        return self._answer(learner_key, new, reply)

    def _plan_first(self, source: SnapshotSource, learner_key: str, state: State, today: date):
        """Plan the path from the answers; store the goal and the path; say what it is."""
        names = self.knowledge.role_skills.get(state.role_code or "", ())
        goal = Goal(
            role=state.role_title or "your goal",
            skills=frozenset(skill_key(n) for n in names),
            hours_per_week=state.hours_per_week or 5,
            start=today,
            target=state.target,
            preferred_format=state.format,
            skill_names={skill_key(n): n for n in names},
        )
        done = source.facts(learner_key).completed
        path = plan(source.catalog, goal, known=state.known, done=done)
        self.store.save_goal(
            learner_key,
            {**goal_to_dict(goal), "role_code": state.role_code, "known": list(state.known)},
        )
        summary = describe(path)
        self.store.save_path(
            learner_key,
            path_to_dict(path, done=done, known=state.known),
            changes=[f"Your path was planned: {summary}"],
        )
        return f"Your path: {summary}"

    def _answer(self, learner_key: str, state: State, reply: str) -> dict:
        return {
            "reply": reply,
            "step": state.step,
            "done": state.step == "done",
            "path": self.store.current_path(learner_key) if state.step == "done" else None,
        }


def describe(path: LearningPath) -> str:
    """One sentence a learner reads: how many courses, hours, when it ends, what is missing."""
    if not path.steps:
        text = f"no course in the catalog teaches what {path.goal.role} needs that you lack yet."
    else:
        n = len(path.steps)
        text = (
            f"{n} course{'s' * (n != 1)}, {path.total_hours:.0f} hours, "
            f"finishing on {path.finish:%d %B %Y}"
        )
        if path.goal.target:
            text += (
                " (on time)"
                if path.on_time
                else f" (after your target, {path.goal.target:%d %B %Y})"
            )
        text += "."
    if path.uncovered:
        text += f" Not taught in our catalog yet: {', '.join(path.uncovered[:5])}"
        text += "." if len(path.uncovered) <= 5 else f" and {len(path.uncovered) - 5} more."
    return text


class Served:
    """The agent as a long-running process serves it (the read API, the app): the knowledge
    loaded once, on first use, and the source of the published snapshot, loaded again only when
    a new one is published."""

    def __init__(self, store: PathStore | None = None) -> None:
        self.store = store or PathStore()
        self._agent: PathAgent | None = None
        self._source: SnapshotSource | None = None
        self._lock = threading.Lock()

    @property
    def agent(self) -> PathAgent:
        with self._lock:
            if self._agent is None:
                self._agent = PathAgent(Knowledge.from_seeds(), self.store)
            return self._agent

    def source(self, snap: Snapshot) -> SnapshotSource:
        with self._lock:
            if self._source is None or self._source.version != snap.version:
                self._source = SnapshotSource(snap)
            return self._source

    def turn(self, snap: Snapshot, learner_key: str, text: str | None) -> dict:
        return self.agent.turn(self.source(snap), learner_key, text)
