"""A simulated learning platform: a catalog built from the real skills taxonomy, learners with
planted behaviour, and a day-by-day stream of contract events with injected bad input.

`simulate(...)` writes under `out`:

    events/events-YYYY-MM-DD.parquet | .ndjson.gz   one file per simulated (UTC) day
    catalog/courses.csv, modules.csv, course_skills.csv, course_prerequisites.csv
    truth/learners.parquet       planted learner traits, for evaluations only (never ingested)
    truth/faults.parquet         one row per injected fault
    truth/content_gaps.parquet   skills the learners' target roles demand that no course teaches

One module per part of the simulated world, each documenting what it plants:

    catalog      courses, modules, skills and prerequisites from O*NET; the learners' target roles
    learners     who signs up: goals, skill level, learning style, habits, consent, personal data
    texts        what learners type: searches, forum posts, drop reasons, rating comments
    platform     one day: sign-ups, recommendations, enrolment, study, quizzes, completion, drops
    faults       the bad input injected into each day's file
    run          `simulate`: the day loop, contract envelope, files and summary
    loop         `respond_to_outbox`: the days after, learners responding to Pathwise's nudges
    randomness   seeded random streams and vectorized ids

Conventions: user_id `usr_` + 10 hex digits (distinct), session_id `ses_` + 12 (one per learner
and day), event_id a random UUID v4; course, module, quiz, rec, nudge and thread ids: see
`catalog` and `platform`. Browsers and the platform write UTC times (`...Z`), the mobile app
local time with its offset.

Same seed, same files: every random draw comes from a numpy generator seeded with `seed`, a
purpose and the day. Work is vectorized per day over all learners; only the few faulty rows
are edited one by one.
"""

from pathwise.sources.simulator.faults import FAULT_KINDS
from pathwise.sources.simulator.run import simulate

__all__ = ["FAULT_KINDS", "simulate"]
