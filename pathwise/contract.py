"""The event contract between a learning platform and Pathwise (version 1).

One definition serves everyone: the simulator and importers write it, ingestion compiles it into
SQL checks, and `docs/events.md` describes it. Change it here, bump `SCHEMA_VERSION` for breaking
changes, and keep the docs in step (a test compares them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = (1,)

# Envelope fields in the order they are written. `properties` and `context` are JSON objects
# (in Parquet files: JSON-encoded strings).
ENVELOPE = (
    "event_id",
    "event_type",
    "occurred_at",
    "user_id",
    "session_id",
    "course_id",
    "module_id",
    "schema_version",
    "properties",
    "context",
)
REQUIRED_ENVELOPE = ("event_id", "event_type", "occurred_at", "user_id", "schema_version")
MAX_EVENT_ID_LENGTH = 128


class Tier(StrEnum):
    ESSENTIAL = "essential"  # always collected: enrolment, progress, completion, quizzes, ...
    FINE = "fine"  # fine-grained behaviour: only with a consent grant in force at the event's time


class ConsentScope(StrEnum):
    """What a `consent_changed` event grants or withdraws: a collection tier, personalization, or
    messages.

    Personalization is on unless the learner objects (`granted: false`: GDPR Art. 21 objection to
    profiling, CCPA "do not share"); from the next nightly run on they get the same popularity
    list as everyone, and no risk score, learning style or personalized reason is computed for
    them. `granted: true` lifts the objection."""

    ESSENTIAL = Tier.ESSENTIAL.value
    FINE = Tier.FINE.value
    PERSONALIZATION = "personalization"
    # May Pathwise's agents contact the learner at all: granted unless withdrawn
    # (agents/guardrails.py).
    MESSAGES = "messages"


class Scope(StrEnum):
    """Which ids an event must carry."""

    NONE = "none"
    COURSE = "course"  # course_id required
    MODULE = "module"  # course_id and module_id required


@dataclass(frozen=True)
class Prop:
    """One property of an event type's `properties` object."""

    name: str
    type: str  # "string" | "number" | "integer" | "boolean" | "string[]"
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    free_text: bool = False  # user-written text: e-mails and phone numbers are redacted
    doc: str = ""


@dataclass(frozen=True)
class EventType:
    name: str
    tier: Tier
    scope: Scope
    doc: str
    props: tuple[Prop, ...] = field(default_factory=tuple)


FORMATS = ("video", "reading", "hands-on")
# Where a recommendation list is shown: a closed list, so no free text reaches the warehouse
# through it (the read API's `surface` parameter takes the same values).
SURFACES = ("home", "course_page", "catalog", "search", "email", "push", "in_app", "other")

EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType(
            "profile_updated",
            Tier.ESSENTIAL,
            Scope.NONE,
            "The learner stated or changed their goal and profile.",
            (
                Prop("target_role", "string", doc="Occupation the learner aims for (O*NET title)."),
                Prop(
                    "current_skills", "string[]", required=False, doc="Skills they say they have."
                ),
                Prop("weekly_minutes", "integer", False, 0, 10080, doc="Weekly time budget."),
                Prop("preferred_format", "string", False, choices=FORMATS),
            ),
        ),
        EventType(
            "consent_changed",
            Tier.ESSENTIAL,
            Scope.NONE,
            "The learner granted or withdrew a consent tier, objected to personalization, or "
            "withdrew consent to messages.",
            (
                Prop("tier", "string", choices=tuple(c.value for c in ConsentScope)),
                Prop("granted", "boolean"),
            ),
        ),
        EventType(
            "search",
            Tier.ESSENTIAL,
            Scope.NONE,
            "A catalog search.",
            (
                Prop("query", "string", free_text=True),
                Prop("results_count", "integer", minimum=0),
            ),
        ),
        EventType("course_view", Tier.ESSENTIAL, Scope.COURSE, "A course page was viewed."),
        EventType(
            "rec_impression",
            Tier.ESSENTIAL,
            Scope.COURSE,
            "A recommended course was shown.",
            (
                Prop("rec_id", "string", doc="Id of the served recommendation list."),
                Prop("position", "integer", minimum=1),
                Prop("surface", "string", choices=SURFACES, doc="Where it was shown."),
                Prop("model_version", "string"),
            ),
        ),
        EventType(
            "rec_click",
            Tier.ESSENTIAL,
            Scope.COURSE,
            "A recommended course was clicked.",
            (
                Prop("rec_id", "string"),
                Prop("position", "integer", required=False, minimum=1, doc="Its rank in the list."),
                Prop("model_version", "string", required=False, doc="The model that ranked it."),
            ),
        ),
        EventType(
            "enroll",
            Tier.ESSENTIAL,
            Scope.COURSE,
            "The learner enrolled in a course.",
            (
                Prop("rec_id", "string", required=False, doc="Set when a recommendation led here."),
                Prop(
                    "attempt",
                    "integer",
                    required=False,
                    minimum=1,
                    doc="1 for the learner's first attempt at this course, 2 for a retake, ...",
                ),
                Prop(
                    "studied_credits",
                    "integer",
                    required=False,
                    minimum=0,
                    doc="Credits the learner is studying in this period, this course included.",
                ),
            ),
        ),
        EventType(
            "material_view",
            Tier.ESSENTIAL,
            Scope.COURSE,
            "The learner used the course's material on a day: a page, resource, forum, online "
            "class or practice quiz (a progress signal, essential tier).",
            (
                Prop(
                    "material_id",
                    "string",
                    required=False,
                    doc="The material, as the platform names it.",
                ),
                Prop(
                    "clicks",
                    "integer",
                    required=False,
                    minimum=1,
                    doc="Interactions with it that day.",
                ),
            ),
        ),
        EventType("module_start", Tier.ESSENTIAL, Scope.MODULE, "A module was started."),
        EventType("module_complete", Tier.ESSENTIAL, Scope.MODULE, "A module was completed."),
        EventType(
            "video_progress",
            Tier.ESSENTIAL,
            Scope.MODULE,
            "Periodic playback progress (a progress signal, essential tier).",
            (
                Prop("position_s", "number", minimum=0),
                Prop("duration_s", "number", minimum=0),
            ),
        ),
        EventType(
            "video_seek",
            Tier.FINE,
            Scope.MODULE,
            "A jump in a video: backwards is a rewind, forwards a skip.",
            (
                Prop("from_s", "number", minimum=0),
                Prop("to_s", "number", minimum=0),
            ),
        ),
        EventType(
            "video_pause",
            Tier.FINE,
            Scope.MODULE,
            "The video was paused.",
            (Prop("position_s", "number", minimum=0),),
        ),
        EventType(
            "quiz_submit",
            Tier.ESSENTIAL,
            Scope.COURSE,
            "A quiz or assessment was submitted.",
            (
                Prop("quiz_id", "string"),
                Prop("score", "number", minimum=0, maximum=1, doc="Share of marks, 0..1."),
                Prop("attempt", "integer", minimum=1),
            ),
        ),
        EventType(
            "course_complete",
            Tier.ESSENTIAL,
            Scope.COURSE,
            "The course ended for the learner with a final result.",
            (
                Prop(
                    "result",
                    "string",
                    required=False,
                    choices=("pass", "distinction", "fail"),
                    doc="Missing means completed (pass).",
                ),
            ),
        ),
        EventType(
            "course_drop",
            Tier.ESSENTIAL,
            Scope.COURSE,
            "The learner left the course before completing it.",
            (Prop("reason", "string", required=False, free_text=True),),
        ),
        EventType(
            "rating",
            Tier.ESSENTIAL,
            Scope.COURSE,
            "A course rating.",
            (
                Prop("stars", "integer", minimum=1, maximum=5),
                Prop("comment", "string", required=False, free_text=True),
            ),
        ),
        EventType(
            "forum_post",
            Tier.ESSENTIAL,
            Scope.NONE,
            "A forum post (course_id set for course forums).",
            (
                Prop("thread_id", "string"),
                Prop("text", "string", free_text=True),
            ),
        ),
        # Nudges come back from the platform: Pathwise's own (agent set; nudge_id is the outbox's
        # message id, course_id the course it is about) or the platform's (no agent).
        EventType(
            "nudge_sent",
            Tier.ESSENTIAL,
            Scope.NONE,
            "A nudge reached the learner: one of Pathwise's agents sent it (`agent` set), or the "
            "platform itself did.",
            (
                Prop("nudge_id", "string"),
                Prop("channel", "string", required=False, choices=("email", "push", "in_app")),
                Prop(
                    "agent",
                    "string",
                    required=False,
                    doc="The Pathwise agent behind it: `reengage`, `campaign:<id>`, ...",
                ),
                Prop("campaign_id", "string", required=False, doc="The campaign, if any."),
            ),
        ),
        EventType(
            "nudge_opened",
            Tier.ESSENTIAL,
            Scope.NONE,
            "The learner opened a nudge.",
            (Prop("nudge_id", "string"),),
        ),
        EventType(
            "nudge_clicked",
            Tier.ESSENTIAL,
            Scope.NONE,
            "The learner followed a nudge's link (to the course, module or Q&A it names).",
            (Prop("nudge_id", "string"),),
        ),
    )
}

FINE_EVENT_TYPES = tuple(n for n, e in EVENT_TYPES.items() if e.tier is Tier.FINE)
# Event types carrying user-written text: ingestion redacts their properties in full.
FREE_TEXT_TYPES = tuple(n for n, e in EVENT_TYPES.items() if any(p.free_text for p in e.props))

# Quarantine reasons: the first failing check names the reason; `detail` says which field.
REASONS = {
    "oversized": "The event is larger than PATHWISE_MAX_EVENT_BYTES.",
    "malformed_json": "The line is not valid JSON.",
    "not_an_object": "The JSON value is not an object.",
    "missing_field": "A required envelope field is missing or null.",
    "wrong_type": "An envelope field or property has the wrong JSON type.",
    "unsupported_schema_version": "schema_version is not one this Pathwise accepts.",
    "unknown_event_type": "event_type is not in the contract.",
    "invalid_timestamp": "occurred_at is not ISO-8601 with a time zone.",
    "future_timestamp": "occurred_at is later than the ingest time plus PATHWISE_MAX_CLOCK_SKEW.",
    "ancient_timestamp": "occurred_at is before 1990.",
    "missing_scope": "course_id / module_id required by this event type is missing.",
    "missing_property": "A required property is missing or null.",
    "invalid_property": "A property is out of range or not one of its allowed values.",
    "undeclared_property": "A property the contract does not declare for this event type (only "
    "with PATHWISE_UNDECLARED_PROPERTIES=quarantine; by default they are dropped).",
    "personal_data": "event_id, course_id or module_id holds an e-mail address, an IPv4 address "
    "or the event's own user_id.",
    "duplicate_conflict": "An event with this event_id and a different payload was seen first.",
}


def markdown_reference() -> str:
    """The event-type reference table of docs/events.md (a test keeps the two identical)."""
    rows = [
        "| event_type | tier | needs | properties (* required) | meaning |",
        "|---|---|---|---|---|",
    ]
    needs = {Scope.NONE: "", Scope.COURSE: "course_id", Scope.MODULE: "course_id, module_id"}
    for e in EVENT_TYPES.values():
        props = []
        for p in e.props:
            spec = p.type
            if p.minimum is not None or p.maximum is not None:
                lo = "" if p.minimum is None else f"{p.minimum:g}"
                hi = "" if p.maximum is None else f"{p.maximum:g}"
                spec += f" {lo}..{hi}"
            if p.choices:
                spec += " " + "/".join(p.choices)
            if p.free_text:
                spec += ", free text (redacted)"
            props.append(f"`{p.name}`{'*' if p.required else ''}: {spec}")
        rows.append(
            f"| `{e.name}` | {e.tier.value} | {needs[e.scope]} | {'<br>'.join(props)} | {e.doc} |"
        )
    rows += ["", "| quarantine reason | when |", "|---|---|"]
    rows += [f"| `{r}` | {doc} |" for r, doc in REASONS.items()]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_reference(), end="")
