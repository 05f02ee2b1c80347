"""One day on the simulated platform: what learners and the platform itself do, as events.

`Platform` carries each learner's state from day to day (current enrolment, progress, quiz
scores, engagement, consent) and simulates one day at a time, vectorized over all learners;
`EventBuffer` collects the day's events in columns. Planted structure (what the models built on
this data should be able to find):
- A course harder than the learner's level (more so with prerequisites missing) lowers quiz
  scores and raises dropout; a much easier one also raises dropout, less so.
- Modules in a format other than the learner's style take longer and score lower, and a course
  in another format is dropped more often. The fine tier carries the style: readers skip
  forward in videos (video_seek with to_s > from_s), watchers rewind and pause, hands-on
  learners pause most. Fine events are sent for every learner, with consent or without.
- Enrolment follows topic preferences, the target role's skills and fitting difficulty. The
  logged recommender (MODEL_VERSION) ranks mostly by popularity, so clicks show position bias
  and its recommendations cause mismatches that a better model would avoid.
- Frustration lowers engagement (fewer active days) before a drop; enrolments idle for
  AUTO_DROP_IDLE_DAYS are ended by the platform (course_drop without a session or reason).
- Searches for demanded skills that no course teaches return 0 or few results (content gaps).
- A completion shift (`completion_factor` < 1, from `shift_from_day` on) is the platform
  getting worse for monitoring to notice: learners about to start a course's last module give
  it up with probability 1 - completion_factor, so completions fall by that factor. It draws
  random numbers only when on, so without it the files are those of an unshifted run, and the
  days before the shift are the same in both.

- An `offer` can show learners courses of their own to consider first when they pick one (the
  learning-path evaluation shows some their path's open steps); without one, nothing changes.
- After the simulated days, `loop` can plug a `responder` in: learners then also receive
  Pathwise's nudges from the outbox and respond to them (planted effect there); without one,
  nothing here draws differently.

Platform events (nudge_sent, idle course_drop) have no session and no context.
Conventions: quiz ids `<module_id>-Q`, rec_id `rec_` + 12 hex digits, nudge_id `ndg_` + 12,
thread_id `th_` + 8.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import polars as pl

from pathwise.sources.simulator.catalog import ROLE_TOP_SKILLS, Catalog, Roles
from pathwise.sources.simulator.learners import Learners
from pathwise.sources.simulator.randomness import random_ids, random_stream
from pathwise.sources.simulator.texts import (
    DROP_CAUSES,
    FORUM_COURSE,
    FORUM_GENERAL,
    SEARCH_TEMPLATES,
    Grouped,
    TextPools,
)

DAY_MS = 86_400_000
MODEL_VERSION = "pop-baseline-2025.11"  # the logged recommender

# Behaviour. PACE rows: learner style; columns: module format. Real minutes per content minute.
PACE = np.array([[1.05, 1.3, 1.2], [0.6, 0.85, 1.1], [0.9, 1.15, 0.9]])
SKIP_RATE = np.array([0.02, 0.25, 0.08])  # forward seeks per minute of video, by style
REWIND_RATE = np.array([0.10, 0.02, 0.05])
PAUSE_RATE = np.array([0.08, 0.02, 0.12])
PROGRESS_EVERY_S = 360  # video_progress heartbeat, in seconds of video
CLICK_BIAS = np.array([0.30, 0.18, 0.12, 0.09, 0.07])  # click probability by list position
SURFACES = ("home", "course_page", "catalog")
NUDGE_CHANNELS = ("email", "push", "in_app")
AUTO_DROP_IDLE_DAYS = 14
MAX_DAILY_MINUTES = 150
LAST_SESSION_START_H = 20  # sessions start early enough to end the same (UTC) day


# Platform attributes holding one row per learner: what a day changes.
LEARNER_STATE = (
    "course", "pos", "done", "gap", "score_sum", "score_n", "level", "engagement", "last_active",
    "last_nudge", "completed", "tried", "granted", "granted_at", "revoked_at", "t",
)  # fmt: skip


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


EVENT_COLUMNS = {
    "event_type": pl.String, "u": pl.Int32, "t": pl.Int64, "course": pl.Int32,
    "module": pl.Int32, "client": pl.Boolean, "properties": pl.String,
}  # fmt: skip


class EventBuffer:
    """The day's events as column blocks: learner, time (ms), course, module, properties JSON."""

    def __init__(self) -> None:
        self.blocks: list[pl.DataFrame] = []

    def add(
        self, event_type: str, u, t, *, course=-1, module=-1, client=True, **props: Any
    ) -> None:
        """Events of one type; `client=False` for the platform's own (no session, no context).

        Property values are arrays (or scalars); a null leaves an optional property out.
        """
        n = len(u)
        if n == 0:
            return
        encoded = pl.repeat("{}", n, eager=True)
        if props:
            values = pl.DataFrame(
                {
                    k: v if not np.isscalar(v) else pl.repeat(cast(Any, v), n, eager=True)
                    for k, v in props.items()
                }
            )
            encoded = values.select(pl.struct(pl.all()).struct.json_encode()).to_series()
            if any(values[k].has_nulls() for k in props):  # optional properties come last
                encoded = encoded.str.replace_all(r',?"\w+":null', "")
        self.blocks.append(
            pl.DataFrame(
                {
                    "event_type": pl.repeat(event_type, n, eager=True),
                    "u": np.asarray(u, dtype=np.int32),
                    "t": np.asarray(t, dtype=np.int64),
                    "course": np.broadcast_to(course, n).astype(np.int32),
                    "module": np.broadcast_to(module, n).astype(np.int32),
                    "client": np.full(n, client),
                    "properties": encoded,
                }
            )
        )

    def frame(self, last_ms: int) -> pl.DataFrame:
        # The clamp keeps the rare session that runs past midnight inside the day's file.
        if not self.blocks:  # a day nobody did anything (a few learners: loop's draws)
            return pl.DataFrame(schema=EVENT_COLUMNS)
        return (
            pl.concat(self.blocks)
            .with_columns(pl.col("t").clip(upper_bound=last_ms))
            .sort("t", maintain_order=True)
        )


class Platform:
    """Learner state carried from day to day, and one day's behaviour, vectorized over learners."""

    def __init__(
        self,
        seed: int,
        start_ms: int,
        catalog: Catalog,
        roles: Roles,
        learners: Learners,
        texts: TextPools,
        completion_factor: float = 1.0,
        shift_from_day: int = 0,
    ):
        n, c = len(learners.style), len(catalog.difficulty)
        self.seed, self.start_ms = seed, start_ms
        self.completion_factor, self.shift_from_day = completion_factor, shift_from_day
        self.cat, self.roles, self.lrn, self.texts = catalog, roles, learners, texts
        self.course = np.full(n, -1, dtype=np.int32)  # current enrolment
        self.pos = np.zeros(n, dtype=np.int32)  # next module, 0-based
        self.done = np.zeros(n)  # content minutes done in that module
        self.gap = np.zeros(n)  # difficulty - level (+0.8 with prerequisites missing), at enrolment
        self.score_sum = np.zeros(n)
        self.score_n = np.zeros(n, dtype=np.int32)
        self.level = learners.level.copy()
        self.engagement = learners.engagement.copy()
        self.last_active = learners.signup_day.copy()
        self.last_nudge = np.full(n, -99)
        self.completed = np.zeros((n, c), dtype=bool)
        self.tried = np.zeros((n, c), dtype=bool)
        self.granted = np.zeros(n, dtype=bool)
        self.granted_at = np.full(n, -1, dtype=np.int64)
        self.revoked_at = np.full(n, -1, dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)  # each active learner's clock today (ms)
        # Extra random-stream keys: another draw of the same days (the loop's replications).
        self.salt: tuple[int, ...] = ()
        # Called each morning after the platform's jobs: (platform, day, ms0) -> learners who come
        # back today to work their current module through, and from when (their response to
        # Pathwise's nudges, `loop`).
        self.responder: Callable[[Platform, int, int], tuple[np.ndarray, np.ndarray]] | None = None
        self.committed = np.zeros(0, dtype=np.int64)  # today's returning learners
        # Called when learners pick a course, from a recommendation or by themselves:
        # (platform, learners) -> [learner, course] the courses offered to each of them, e.g.
        # their learning path's open steps (agents/paths/time_to_goal.py). See `take_offer`.
        self.offer: Callable[[Platform, np.ndarray], np.ndarray] | None = None

    def fork(self) -> Platform:
        """A copy whose learner state evolves on its own (catalog, learners and texts shared:
        nothing mutates them)."""
        twin = copy.copy(self)
        for name in LEARNER_STATE:
            setattr(twin, name, getattr(self, name).copy())
        return twin

    def subset(self, u: np.ndarray) -> Platform:
        """The platform of learners `u` alone, numbered 0..len(u)-1 in that order. Learners do not
        affect one another here (each one's day depends on their own state and the catalog), so
        their days are the same random process as on the whole platform, with other draws."""
        twin = copy.copy(self)
        twin.lrn = self.lrn.subset(u)
        for name in LEARNER_STATE:
            setattr(twin, name, getattr(self, name)[u])
        return twin

    def tick(self, u: np.ndarray, lo_s: float, hi_s: float) -> np.ndarray:
        """Advance the clocks of learners `u` by lo..hi seconds; returns their new times."""
        self.t[u] += self.rng.integers(int(lo_s * 1000), int(hi_s * 1000), len(u))
        return self.t[u]

    def day(self, d: int) -> pl.DataFrame:
        """Simulate day `d`: columns event_type, u, t, course, module, client, properties."""
        self.rng = rng = random_stream(self.seed, 3, d, *self.salt)
        self.today = d
        self.ev = EventBuffer()
        lrn, n = self.lrn, len(self.course)
        ms0 = self.start_ms + d * DAY_MS
        opened, open_t = self.platform_jobs(d, ms0)
        back, back_t = self.responder(self, d, ms0) if self.responder else (opened[:0], open_t[:0])
        self.committed = back

        weekend = dt.datetime.fromtimestamp(ms0 / 1000, dt.UTC).weekday() >= 5
        p = self.engagement * lrn.days_per_week / 7 * (0.75 if weekend else 1.1)
        p[opened] = np.maximum(p[opened], 0.8)
        p[back] = 1.0
        a = np.flatnonzero(((lrn.signup_day <= d) & (rng.random(n) < p)) | (lrn.signup_day == d))
        start_h = (lrn.hour_utc[a] + rng.normal(0, 1.0, len(a))) % LAST_SESSION_START_H
        self.t[a] = ms0 + (start_h * 3_600_000).astype(np.int64)
        self.t[opened] = np.maximum(self.t[opened], open_t + 60_000)
        self.t[back] = np.maximum(self.t[back], back_t + 60_000)
        self.last_active[a] = d
        self.engagement[a] *= 0.995  # novelty wears off

        self.sign_up_and_consent(a, d)
        back = a[(self.course[a] >= 0) & (rng.random(len(a)) < 0.5)]
        self.ev.add("course_view", back, self.tick(back, 5, 30), course=self.course[back])
        self.search(a)
        self.browse(a)
        studied = self.study(a)
        self.forum(a)
        self.drop_out(studied)
        return self.ev.frame(ms0 + DAY_MS - 1)

    def platform_jobs(self, d: int, ms0: int) -> tuple[np.ndarray, np.ndarray]:
        """Early-morning jobs: end long-idle enrolments, nudge idle learners. Returns who opened
        a nudge, and when."""
        rng = self.rng
        enrolled = self.course >= 0
        idle = d - self.last_active
        auto = np.flatnonzero(enrolled & (idle >= AUTO_DROP_IDLE_DAYS))
        t = ms0 + rng.integers(7_200_000, 10_800_000, len(auto))
        self.ev.add("course_drop", auto, t, course=self.course[auto], client=False)
        self.course[auto] = -1

        due = enrolled & (idle >= 3) & (idle < AUTO_DROP_IDLE_DAYS) & (d - self.last_nudge >= 4)
        nudged = np.flatnonzero(due)
        self.last_nudge[nudged] = d
        ids = random_ids(rng, len(nudged), 12, "ndg_")
        channel = rng.choice(3, len(nudged), p=[0.5, 0.3, 0.2])
        sent = ms0 + rng.integers(28_800_000, 36_000_000, len(nudged))
        self.ev.add(
            "nudge_sent",
            nudged,
            sent,
            client=False,
            nudge_id=ids,
            channel=np.array(NUDGE_CHANNELS)[channel],
        )
        was_opened = rng.random(len(nudged)) < np.array([0.25, 0.4, 0.35])[channel]
        opened = nudged[was_opened]
        open_t = sent[was_opened] + rng.integers(300_000, 14_400_000, len(opened))
        self.ev.add("nudge_opened", opened, open_t, nudge_id=ids.filter(was_opened))
        self.engagement[opened] = np.minimum(1, self.engagement[opened] + 0.05)
        return opened, open_t

    def sign_up_and_consent(self, a: np.ndarray, d: int) -> None:
        lrn = self.lrn
        new = a[lrn.signup_day[a] == d]
        self.ev.add(
            "profile_updated",
            new,
            self.tick(new, 5, 60),
            target_role=np.array(self.roles.titles)[lrn.role[new]],
            current_skills=lrn.current_skills.gather(new),
            weekly_minutes=lrn.weekly_minutes[new],
            preferred_format=lrn.stated_format.gather(new),
        )
        # Consent changes on the first active day on or after the planned day.
        grant = a[(lrn.grant_day[a] >= 0) & (lrn.grant_day[a] <= d) & (self.granted_at[a] < 0)]
        t = self.tick(grant, 2, 30)
        self.ev.add("consent_changed", grant, t, tier="fine", granted=True)
        self.granted[grant], self.granted_at[grant] = True, t
        revoke = a[(lrn.revoke_day[a] >= 0) & (lrn.revoke_day[a] <= d) & self.granted[a]]
        t = self.tick(revoke, 2, 30)
        self.ev.add("consent_changed", revoke, t, tier="fine", granted=False)
        self.granted[revoke], self.revoked_at[revoke] = False, t

    def utility(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[learner, course] appeal for learners `b` (-inf: taken before) and difficulty gaps."""
        cat, lrn = self.cat, self.lrn
        completed = self.completed[b]
        missing = np.zeros(completed.shape, dtype=bool)
        for p in cat.prereqs.T:
            missing |= (p >= 0) & ~completed[:, p.clip(0)]
        gap = cat.difficulty - self.level[b, None] + 0.8 * missing
        known = lrn.knows[b][:, cat.topic] & (cat.difficulty == 1)
        u = (
            0.8 * lrn.pref[b][:, cat.category]
            + 2.0 * cat.role_fit[lrn.role[b]] * (1 - 0.8 * known)
            - 0.9 * np.abs(gap)
            + 0.4 * (cat.fmt == lrn.style[b, None])
        )
        u[completed | self.tried[b]] = -np.inf
        return u, gap

    def search(self, a: np.ndarray) -> None:
        """Learners search for their role's skills (catalog gaps included) or catalog topics."""
        rng, cat, texts = self.rng, self.cat, self.texts
        q = a[rng.random(len(a)) < np.where(self.course[a] < 0, 0.3, 0.08)]
        for_role = self.roles.top_skills[self.lrn.role[q], rng.integers(0, ROLE_TOP_SKILLS, len(q))]
        in_catalog = cat.topic_skill[rng.integers(0, len(cat.topic_skill), len(q))]
        s = np.where(rng.random(len(q)) < 0.7, for_role, in_catalog)
        query = texts.queries.gather(
            s * len(SEARCH_TEMPLATES) + rng.integers(0, len(SEARCH_TEMPLATES), len(q))
        )
        results = texts.results[s]
        fuzzy = (results == 0) & (rng.random(len(q)) < 0.3)  # loose matches on descriptions
        results[fuzzy] = rng.integers(1, 3, fuzzy.sum())
        self.ev.add("search", q, self.tick(q, 10, 90), query=query, results_count=results)

    def browse(self, a: np.ndarray) -> None:
        """Recommendations, clicks with position bias, course views and enrolments."""
        rng, cat = self.rng, self.cat
        b = a[(self.course[a] < 0) | (rng.random(len(a)) < 0.1)]
        u, gap = self.utility(b)
        score = cat.popularity + 0.5 * u + 0.5 * rng.gumbel(size=u.shape)
        recs = np.argsort(-score, axis=1, kind="stable")[:, : len(CLICK_BIAS)]
        shown = np.isfinite(np.take_along_axis(score, recs, axis=1))
        rec_ids = random_ids(rng, len(b), 12, "rec_")
        surface = np.array(SURFACES)[rng.choice(len(SURFACES), len(b), p=[0.7, 0.2, 0.1])]
        t = self.tick(b, 2, 20)
        row, pos = np.nonzero(shown)
        self.ev.add(
            "rec_impression",
            b[row],
            t[row] + pos,
            course=recs[row, pos],
            rec_id=rec_ids.gather(row),
            position=pos + 1,
            surface=surface[row],
            model_version=MODEL_VERSION,
        )
        appeal = np.clip(2 * sigmoid(np.take_along_axis(u, recs, axis=1) - 1), 0, 1.5)
        click = shown & (rng.random(recs.shape) < CLICK_BIAS[: recs.shape[1]] * appeal)
        k = np.flatnonzero(click.any(axis=1))  # at most one click per list: the first
        chosen = recs[k, click[k].argmax(axis=1)]
        self.ev.add(
            "rec_click", b[k], self.tick(b[k], 3, 40), course=chosen, rec_id=rec_ids.gather(k)
        )
        self.ev.add("course_view", b[k], self.tick(b[k], 1, 3), course=chosen)
        draw = rng.random(len(k))
        self.take_offer(b[k], u[k], gap[k], draw)  # those who take it are enrolled: not `yes`
        yes = (self.course[b[k]] < 0) & (draw < sigmoid(1.5 * (u[k, chosen] - 0.3)))
        self.enroll(b[k[yes]], chosen[yes], gap[k[yes], chosen[yes]], rec_ids.gather(k[yes]))

        # Without a click, some learners find a course themselves.
        o = np.flatnonzero((self.course[b] < 0) & ~click.any(axis=1) & (rng.random(len(b)) < 0.5))
        choice = np.argmax(u[o] + rng.gumbel(size=(len(o), u.shape[1])), axis=1)
        left = np.isfinite(u[o, choice])
        o, choice = o[left], choice[left]
        self.ev.add("course_view", b[o], self.tick(b[o], 5, 60), course=choice)
        draw = rng.random(len(o))
        took = self.take_offer(b[o], u[o], gap[o], draw)
        yes = ~took & (draw < sigmoid(1.5 * (u[o, choice] - 0.3)))
        self.enroll(b[o[yes]], choice[yes], gap[o[yes], choice[yes]])

    def take_offer(
        self, s: np.ndarray, u: np.ndarray, gap: np.ndarray, draw: np.ndarray
    ) -> np.ndarray:
        """Learners `s` (their appeal `u` and gaps, [learner, course]) about to decide on a course
        with `draw` consider first the offered course they like best today (appeal plus the
        noise of any choice) and start it when `draw` is below its enrolment chance; returns
        who did (they are enrolled, so the course they were deciding on finds them taken). The
        same draw decides both: an offer changes what a learner starts, not how often they start
        something (at least what they would have, at most that or the offer's chance). Without
        an `offer`, or with nothing offered, nobody, and nothing drawn."""
        took = np.zeros(len(s), dtype=bool)
        if self.offer is None or not len(s):
            return took
        offered = self.offer(self, s) & np.isfinite(u) & (self.course[s] < 0)[:, None]
        if not offered.any():
            return took
        pick = np.argmax(np.where(offered, u + self.rng.gumbel(size=u.shape), -np.inf), axis=1)
        rows = np.arange(len(s))
        took = offered.any(axis=1) & (draw < sigmoid(1.5 * (u[rows, pick] - 0.3)))
        w = np.flatnonzero(took)
        self.ev.add("course_view", s[w], self.tick(s[w], 5, 60), course=pick[w])
        self.enroll(s[w], pick[w], gap[w, pick[w]])
        return took

    def enroll(
        self, u: np.ndarray, c: np.ndarray, gap: np.ndarray, rec_ids: pl.Series | None = None
    ) -> None:
        t = self.tick(u, 20, 120)
        if rec_ids is None:
            self.ev.add("enroll", u, t, course=c)
        else:
            self.ev.add("enroll", u, t, course=c, rec_id=rec_ids)
        self.course[u], self.pos[u], self.done[u], self.gap[u] = c, 0, 0, gap
        self.score_sum[u], self.score_n[u] = 0, 0
        self.tried[u, c] = True

    def study(self, a: np.ndarray) -> np.ndarray:
        """Work through modules within today's minutes; returns who studied."""
        rng, cat, lrn = self.rng, self.cat, self.lrn
        left = np.zeros(len(self.course))
        minutes = lrn.weekly_minutes[a] / lrn.days_per_week[a] * rng.lognormal(0, 0.35, len(a))
        left[a] = np.clip(minutes, 10, MAX_DAILY_MINUTES)
        k = self.committed[self.course[self.committed] >= 0]  # they finish their current module
        m = cat.first_module[self.course[k]] + self.pos[k]
        need = (cat.mod_minutes[m] - self.done[k]) * PACE[lrn.style[k], cat.mod_fmt[m]] + 1
        left[k] = np.maximum(left[k], need)
        studied = a[self.course[a] >= 0]
        while len(s := a[(self.course[a] >= 0) & (left[a] >= 1)]):
            c = self.course[s]
            m = cat.first_module[c] + self.pos[s]
            fresh = self.done[s] == 0
            self.ev.add(
                "module_start", s[fresh], self.t[s[fresh]], course=c[fresh], module=m[fresh]
            )
            pace = PACE[lrn.style[s], cat.mod_fmt[m]]
            spend = np.minimum(left[s], (cat.mod_minutes[m] - self.done[s]) * pace)
            video = cat.mod_fmt[m] == 0
            self.watch(s[video], c[video], m[video], self.done[s][video], spend[video], pace[video])
            self.t[s] += (spend * 60_000).astype(np.int64)
            self.done[s] += spend / pace
            left[s] -= spend
            end = self.done[s] >= cat.mod_minutes[m] - 1e-6
            self.finish_modules(s[end], c[end], m[end])
        return studied

    def watch(self, s, c, m, done, spend, pace) -> None:
        """Video playback: progress heartbeats, and the fine-tier seeks and pauses of each style."""
        rng = self.rng
        length = self.cat.mod_minutes[m] * 60.0
        p0, p1 = done * 60, np.minimum((done + spend / pace) * 60, length)
        beats = (p1 // PROGRESS_EVERY_S - p0 // PROGRESS_EVERY_S).astype(int)
        i = np.repeat(np.arange(len(s)), beats)
        nth = np.arange(len(i)) - np.repeat(np.cumsum(beats) - beats, beats) + 1
        position = (p0[i] // PROGRESS_EVERY_S + nth) * PROGRESS_EVERY_S
        ended = np.flatnonzero((p1 >= length) & (length % PROGRESS_EVERY_S > 0))  # final beat
        i, position = np.concatenate([i, ended]), np.concatenate([position, length[ended]])
        t = self.t[s[i]] + ((position - p0[i]) * pace[i] * 1000).astype(np.int64)
        self.ev.add(
            "video_progress",
            s[i],
            t,
            course=c[i],
            module=m[i],
            position_s=position,
            duration_s=length[i],
        )

        style = self.lrn.style[s]
        for kind, rate in (("skip", SKIP_RATE), ("rewind", REWIND_RATE), ("pause", PAUSE_RATE)):
            i = np.repeat(np.arange(len(s)), rng.poisson(rate[style] * spend))
            at = p0[i] + rng.random(len(i)) * (p1[i] - p0[i])
            t = self.t[s[i]] + ((at - p0[i]) * pace[i] * 1000).astype(np.int64)
            if kind == "pause":
                self.ev.add(
                    "video_pause", s[i], t, course=c[i], module=m[i], position_s=at.round(1)
                )
                continue
            jump = rng.uniform(20, 180, len(i)) if kind == "skip" else -rng.uniform(10, 90, len(i))
            to = np.clip(at + jump, 0, length[i]).round(1)
            self.ev.add(
                "video_seek", s[i], t, course=c[i], module=m[i], from_s=at.round(1), to_s=to
            )

    def finish_modules(self, s: np.ndarray, c: np.ndarray, m: np.ndarray) -> None:
        """Module completions, their quizzes, and course completions."""
        rng, cat = self.rng, self.cat
        self.ev.add("module_complete", s, self.t[s], course=c, module=m)
        q = cat.mod_quiz[m]
        qs, qc, qm = s[q], c[q], m[q]
        gap = self.gap[qs]
        mean = (
            0.82
            - 0.20 * np.maximum(gap, 0)
            - 0.06 * np.maximum(-gap - 0.75, 0)
            - 0.10 * (cat.mod_fmt[qm] != self.lrn.style[qs])
        )
        score = np.clip(mean + rng.normal(0, 0.1, len(qs)), 0, 1).round(2)
        quiz_id = self.texts.quiz_ids.gather(qm)
        self.ev.add(
            "quiz_submit",
            qs,
            self.tick(qs, 30, 240),
            course=qc,
            module=qm,
            quiz_id=quiz_id,
            score=score,
            attempt=1,
        )
        again = (score < 0.6) & (rng.random(len(qs)) < 0.5)
        retry = np.clip(score[again] + rng.uniform(0.05, 0.25, again.sum()), 0, 1).round(2)
        t = self.tick(qs[again], 120, 600)
        self.ev.add(
            "quiz_submit",
            qs[again],
            t,
            course=qc[again],
            module=qm[again],
            quiz_id=quiz_id.filter(again),
            score=retry,
            attempt=2,
        )
        score[again] = retry
        self.score_sum[qs] += score
        self.score_n[qs] += 1
        self.pos[s] += 1
        self.done[s] = 0
        self.complete(s[self.pos[s] >= cat.n_modules[c]])
        if self.completion_factor != 1 and self.today >= self.shift_from_day:
            last = self.pos[s] == cat.n_modules[c] - 1  # the last module comes next
            self.give_up(s[last], c[last])

    def complete(self, s: np.ndarray) -> None:
        rng, c = self.rng, self.course[s]
        mean = self.score_sum[s] / np.maximum(self.score_n[s], 1)
        result = np.where(mean >= 0.85, "distinction", np.where(mean >= 0.5, "pass", "fail"))
        implied = np.flatnonzero((result == "pass") & (rng.random(len(s)) < 0.2))  # no result: pass
        self.ev.add(
            "course_complete",
            s,
            self.tick(s, 5, 30),
            course=c,
            result=pl.Series(result).scatter(implied, None),
        )
        self.completed[s, c] = True
        learned = (result != "fail") & (self.cat.difficulty[c] >= self.level[s] - 0.5)
        self.level[s] += 0.25 * learned
        self.engagement[s] = np.minimum(1, self.engagement[s] + 0.05)
        self.rate(s, c, 0.5)
        self.course[s] = -1

    def rate(self, s: np.ndarray, c: np.ndarray, share: float) -> None:
        """Some learners leave stars (and a comment) that follow how well the course fitted."""
        rng = self.rng
        keep = rng.random(len(s)) < share
        s, c = s[keep], c[keep]
        gap = self.gap[s]
        mean = np.where(
            self.score_n[s] > 0, self.score_sum[s] / np.maximum(self.score_n[s], 1), 0.7
        )
        fit = (
            1
            - 0.9 * np.maximum(gap, 0)
            - 0.5 * np.maximum(-gap - 0.75, 0)
            - 0.5 * (self.cat.fmt[c] != self.lrn.style[s])
            + 1.5 * (mean - 0.7)
        )
        stars = np.clip(np.round(3.7 + 0.9 * fit + rng.normal(0, 0.6, len(s))), 1, 5).astype(int)
        comment = self.draw(self.texts.comments, np.digitize(stars, [3, 4]), 0.35)
        self.ev.add("rating", s, self.tick(s, 10, 60), course=c, stars=stars, comment=comment)

    def draw(self, pool: Grouped, group: np.ndarray, share: float) -> pl.Series:
        """A random text of each row's group from a grouped pool; null for 1 - share of rows."""
        texts, first, size = pool
        picked = texts.gather(
            first[group] + (self.rng.random(len(group)) * size[group]).astype(int)
        )
        return picked.scatter(np.flatnonzero(self.rng.random(len(group)) >= share), None)

    def forum(self, a: np.ndarray) -> None:
        rng, cat, texts = self.rng, self.cat, self.texts
        f = a[rng.random(len(a)) < 0.05]
        in_course = (self.course[f] >= 0) & (rng.random(len(f)) < 0.75)
        threads = random_ids(rng, len(f), 8, "th_")
        fc, c = f[in_course], self.course[f[in_course]]
        m = cat.first_module[c] + np.minimum(self.pos[fc], cat.n_modules[c] - 1)
        text = texts.forum_course.gather(
            m * len(FORUM_COURSE) + rng.integers(0, len(FORUM_COURSE), len(fc))
        )
        self.ev.add(
            "forum_post",
            fc,
            self.tick(fc, 30, 300),
            course=c,
            thread_id=threads.filter(in_course),
            text=text,
        )
        fg = f[~in_course]
        text = texts.forum_general.gather(
            self.lrn.role[fg] * len(FORUM_GENERAL) + rng.integers(0, len(FORUM_GENERAL), len(fg))
        )
        self.ev.add(
            "forum_post",
            fg,
            self.tick(fg, 30, 300),
            thread_id=threads.filter(~in_course),
            text=text,
        )

    def dropout_hazard(self, s: np.ndarray) -> tuple[np.ndarray, ...]:
        """The planted chance that learners `s` (enrolled) leave their course after a session,
        and its causes: (risk, hard, easy, wrong_format, low quiz scores, slow: weeks beyond one)."""
        cat, lrn = self.cat, self.lrn
        c, gap = self.course[s], self.gap[s]
        hard, easy = np.maximum(gap, 0), np.maximum(-gap - 0.75, 0)
        wrong_format = (cat.fmt[c] != lrn.style[s]).astype(float)
        low = ((self.score_n[s] > 0) & (self.score_sum[s] < 0.55 * self.score_n[s])).astype(float)
        slow = np.clip(cat.total_minutes[c] / lrn.weekly_minutes[s] - 1, 0, 3)  # weeks beyond one
        risk = sigmoid(-3.6 + 1.5 * hard + 0.8 * easy + 0.7 * wrong_format + 1.0 * low + 0.4 * slow)
        return risk, hard, easy, wrong_format, low, slow

    def drop_out(self, studied: np.ndarray) -> None:
        """After a session: frustration erodes engagement, and some learners leave the course."""
        s = studied[self.course[studied] >= 0]
        c = self.course[s]
        risk, hard, easy, wrong_format, low, slow = self.dropout_hazard(s)
        self.engagement[s] *= np.exp(-0.08 * (hard + 0.5 * wrong_format + low))
        out = self.rng.random(len(s)) < risk
        s, c = s[out], c[out]
        causes = np.stack([hard + low, easy, 0.7 * wrong_format, 0.4 * slow + 0.1])  # DROP_REASONS
        self.leave(s, c, causes[:, out].argmax(axis=0))

    def give_up(self, s: np.ndarray, c: np.ndarray) -> None:
        """Under a completion shift, learners about to start a course's last module leave it
        with probability 1 - completion_factor ("no time"), so completions fall by that factor
        whatever made the others complete or drop. Draws nothing without a shift."""
        out = self.rng.random(len(s)) >= self.completion_factor
        self.leave(s[out], c[out], np.full(out.sum(), DROP_CAUSES.index("time")))

    def leave(self, s: np.ndarray, c: np.ndarray, cause: np.ndarray) -> None:
        """Learners `s` drop course `c`, most giving a reason of their cause (DROP_REASONS);
        some rate the course."""
        self.ev.add(
            "course_drop",
            s,
            self.tick(s, 5, 60),
            course=c,
            reason=self.draw(self.texts.reasons, cause, 0.6),
        )
        self.rate(s, c, 0.2)
        self.course[s] = -1
