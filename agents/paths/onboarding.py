"""Onboarding as a conversation: the learner's goal, what they already know, their hours per week,
a target date and a preferred format, asked for and confirmed one at a time.

Offline and deterministic: the goal is matched to an occupation (roles.py), skills are found in the
learner's words by the skill vocabulary, hours and dates by patterns. `Dialogue.turn` takes the
state and the learner's words and returns the new state and what to say; the state is plain data,
so the app and the read API keep it between turns (and it is erasable with the learner's data).

With a language model (`extractor`, llm_slots.py), each turn is first read by the model, which may
hear several slots at once ("data analyst, 5 hours a week, by June"). Its answers go through the
same step methods as typed words, so the occupation, skills, hours and dates are checked exactly
as offline; answers to questions not asked yet wait in `State.pending` until the dialogue gets
there. When the model fails, the learner's words are read offline and a notice says so: nothing
they said is lost.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta

from agents.paths.llm_slots import SlotExtractor
from agents.paths.planner import skill_key
from agents.paths.roles import RoleMatcher
from pathwise.llm import LLMUnusable

FORMATS = ("video", "reading", "hands-on")
YES = re.compile(r"^\s*(y|yes|yeah|yep|correct|right|sure|ok|okay|that'?s (it|right))\b", re.I)
NO = re.compile(r"^\s*(n|no|nope|nothing|none|not really)\b", re.I)
HOURS = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:h\b|hours?|hrs?)?", re.I)
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m
}
SLOT_NAMES = {
    "goal": "goal",
    "skills": "skills",
    "hours": "hours a week",
    "target": "target date",
    "format": "format",
}
NO_DATE = re.compile(r"no rush|no date|no deadline|whenever|^none$", re.I)
RELATIVE = re.compile(r"in\s+(\d+)\s+(week|month)s?", re.I)


@dataclass(frozen=True)
class State:
    step: str = "goal"  # goal, role, skills, hours, target, format, done
    role_code: str | None = None
    role_title: str | None = None
    candidates: tuple[tuple[str, str], ...] = ()  # (code, title) offered to choose from
    known: tuple[str, ...] = ()  # skill names
    hours_per_week: float | None = None
    target: date | None = None
    format: str | None = None
    inferred: tuple[str, ...] = field(default=(), compare=False)  # from completed courses
    pending: tuple[tuple[str, str], ...] = ()  # (slot, answer) heard before its question

    def to_dict(self) -> dict:
        return {**asdict(self), "target": self.target and self.target.isoformat()}

    @classmethod
    def from_dict(cls, d: dict) -> State:
        target = d.get("target")
        return cls(
            **{
                **d,
                "candidates": tuple(map(tuple, d.get("candidates", ()))),
                "known": tuple(d.get("known", ())),
                "inferred": tuple(d.get("inferred", ())),
                "pending": tuple(map(tuple, d.get("pending", ()))),
                "target": date.fromisoformat(target) if target else None,
            }
        )


class Dialogue:
    def __init__(
        self,
        matcher: RoleMatcher,
        skills: list[str],
        today: date,
        extractor: SlotExtractor | None = None,
    ):
        self.matcher = matcher
        self.today = today
        self.extractor = extractor
        # Longest names first, so "Microsoft Excel" is found before "Excel".
        said = {alias: name for name in skills if name.strip() for alias in _aliases(name)}
        self.skills = [
            (said[a], re.compile(rf"(?<!\w){re.escape(skill_key(a))}(?!\w)"))
            for a in sorted(said, key=len, reverse=True)
        ]

    def start(self, inferred: tuple[str, ...] = (), style_format: str | None = None) -> tuple:
        state = State(inferred=tuple(inferred), format=style_format)
        return state, "What would you like to become? Tell me the job you are aiming for."

    def turn(self, state: State, text: str) -> tuple[State, str]:
        """The learner said `text` at `state.step`: the next state and what to say."""
        text, heard, notice = text.strip(), {}, ""
        if self.extractor is not None and text and state.step != "done":
            try:
                heard = self.extractor.extract(text, state.step, self.today).answers()
            except LLMUnusable as e:
                why = str(e)
                notice = f"({why[:1].upper()}{why[1:]}, so I read your answer without it.) "
        state, reply = self._step(state, heard.pop(_slot(state.step), text))
        pending = {**dict(state.pending), **heard}
        noted = []
        while (slot := _slot(state.step)) in pending:  # answered before it was asked
            before = state.step
            state, reply = self._step(state, pending.pop(slot))
            if state.step == before:
                break
            noted.append(SLOT_NAMES[slot])
        state = replace(state, pending=tuple(pending.items()))
        if noted:
            reply = f"Noted your {_list(noted)} too. {reply}"
        return state, notice + reply

    def _step(self, state: State, text: str) -> tuple[State, str]:
        return getattr(self, f"_{state.step}")(state, text)

    # -- one method per step: each fills its slot or asks again, then asks the next question --

    def _goal(self, state: State, text: str) -> tuple[State, str]:
        found = self.matcher.match(text)
        if not found or found[0].score < 0.3:
            return state, "I could not place that job. Could you name it another way?"
        if self.matcher.sure(found):
            state = replace(state, role_code=found[0].onet_soc_code, role_title=found[0].title)
            return self._ask_skills(replace(state, step="skills"), f"{found[0].title}: got it. ")
        options = tuple((m.onet_soc_code, m.title) for m in found)
        listed = "; ".join(f"{i}. {t}" for i, (_, t) in enumerate(options, 1))
        return replace(state, step="role", candidates=options), (
            f"Which of these is closest? {listed}. Answer with a number, or describe the job again."
        )

    def _role(self, state: State, text: str) -> tuple[State, str]:
        if text.isdigit() and 1 <= int(text) <= len(state.candidates):
            code, title = state.candidates[int(text) - 1]
            state = replace(state, role_code=code, role_title=title, candidates=())
            return self._ask_skills(replace(state, step="skills"), f"{title}: got it. ")
        return self._goal(replace(state, step="goal", candidates=()), text)

    def _ask_skills(self, state: State, prefix: str) -> tuple[State, str]:
        if state.inferred:
            return state, (
                f"{prefix}From your courses you know {_list(state.inferred)}. Is that right? "
                "Say yes, or tell me what you already know."
            )
        return state, f"{prefix}What do you already know? Name skills, or say nothing yet."

    def _skills(self, state: State, text: str) -> tuple[State, str]:
        named = self.find_skills(text)
        if YES.match(text) and not named:
            known = state.inferred
        elif NO.match(text) and not named:
            known = ()
        elif named:
            known = tuple(dict.fromkeys([*state.inferred, *named]))
        else:
            return state, (
                "I did not recognise a skill there. Name tools or topics (Excel, SQL, Python), "
                "or say nothing yet."
            )
        heard = f"Noted: {_list(known)}. " if known else "Starting from scratch, then. "
        return replace(state, step="hours", known=known), (
            f"{heard}How many hours a week can you give to learning?"
        )

    def _hours(self, state: State, text: str) -> tuple[State, str]:
        match = HOURS.search(text)
        hours = float(match.group(1).replace(",", ".")) if match else 0
        if not 0.5 <= hours <= 60:
            return state, "How many hours a week, as a number between 1 and 60?"
        return replace(state, step="target", hours_per_week=hours), (
            f"{hours:g} hours a week. By when would you like to get there? "
            "A month, a date, or 'no rush'."
        )

    def _target(self, state: State, text: str) -> tuple[State, str]:
        target = None
        if not NO_DATE.search(text):
            target = self.parse_date(text)
            if target is None or target <= self.today:
                return (
                    state,
                    "I did not get a date ahead. Try 'June', '30 June 2027' or 'in 6 months'.",
                )
        when = f"By {target:%d %B %Y}. " if target else "No deadline. "
        fmt = f" You seem to like {state.format}: keep that?" if state.format else ""
        return replace(state, step="format", target=target), (
            f"{when}Which format suits you best: video, reading or hands-on?{fmt}"
        )

    def _format(self, state: State, text: str) -> tuple[State, str]:
        chosen = next((f for f in FORMATS if f.split("-")[0] in text.lower()), None)
        if chosen is None and state.format and (YES.match(text) or not text):
            chosen = state.format
        if chosen is None and not NO.match(text):
            return state, "Video, reading or hands-on?"
        state = replace(state, step="done", format=chosen)
        return state, f"Thank you. I am planning your path to {state.role_title} now."

    def _done(self, state: State, text: str) -> tuple[State, str]:
        return state, "Your path is ready. Say 'start over' on the path page to change your goal."

    # -- reading the learner's words --

    def find_skills(self, text: str) -> list[str]:
        said = skill_key(re.sub(r"[^\w+#.]+", " ", text))
        found, taken = [], said
        for name, pattern in self.skills:
            if pattern.search(taken):
                found.append(name)
                taken = pattern.sub(" ", taken)  # "Microsoft Excel" is not also "Excel"
        return found

    def parse_date(self, text: str) -> date | None:
        """'June' (the next June's last day), '30 June 2027', '2027-06-30', 'in 6 months'."""
        if m := RELATIVE.search(text):
            n, unit = int(m.group(1)), m.group(2).lower()
            return self.today + (timedelta(weeks=n) if unit == "week" else timedelta(days=30 * n))
        if m := re.search(r"(\d{4})-(\d{2})-(\d{2})", text):
            return _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        words = re.findall(r"[a-z]+|\d+", text.lower())
        month = next((MONTHS[w] for w in words if w in MONTHS), None)
        if month is None:
            return None
        numbers = [int(w) for w in words if w.isdigit()]
        year = next((n for n in numbers if n > 1900), None)
        day = next((n for n in numbers if 1 <= n <= 31), None)
        if year is None:
            year = self.today.year + (month < self.today.month)
        return _safe_date(year, month, day or calendar.monthrange(year, month)[1])


VENDORS = re.compile(r"^(Microsoft|Oracle|Adobe|Google|Apache|Amazon|Autodesk|IBM|SAP) ")


def _aliases(name: str) -> set[str]:
    """How people say a skill: "Microsoft Excel" as "Excel", "Structured query language SQL" as
    "SQL" (a closing acronym)."""
    aliases = {name, VENDORS.sub("", name)}
    last = name.split()[-1]
    if len(name.split()) > 1 and len(last) >= 2 and last.isupper():
        aliases.add(last)
    return aliases


def _slot(step: str) -> str:
    """The slot a step asks for (choosing among occupations answers the goal)."""
    return "goal" if step == "role" else step


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _list(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
