"""The learners: who signs up, what they aim for, how they like to learn, and what they consent to.

Each learner gets planted traits that the models built on the data should be able to find, and
that truth/learners.parquet records for evaluations (never ingested):
- a goal: a real O*NET occupation (target role), with some of its most demanded skills
  already known, and topic preferences mixing personal taste with what the role needs;
- a latent skill level on the course difficulty scale (1-3), at sign-up;
- a learning style (watcher / reader / hands-on, style i preferring module format FORMATS[i]),
  stated in the profile by most, not always truthfully;
- study habits: weekly minutes, days a week, engagement (the propensity to come back), a
  preferred hour, and a sign-up day (40% on the first day, the rest spread over the run);
- consent plans for fine-grained tracking: ~60% grant it, most at sign-up, some days later,
  and ~12% of those withdraw it again;
- personal data in the client context (e-mail, IP, user agent, locale) that ingestion must
  drop. Browsers write UTC times (`...Z`), the mobile app local time with its offset.

What learners do day by day (enrol, study, drop out) is simulated in `platform`.
Conventions: user_id `usr_` + 10 hex digits, distinct.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import polars as pl
import pyarrow as pa

from pathwise.contract import FORMATS
from pathwise.sources.simulator.catalog import ROLE_TOP_SKILLS, Catalog, Roles
from pathwise.sources.simulator.randomness import hex_ids, random_stream

STYLES = ("watcher", "reader", "hands-on")  # style i prefers module format FORMATS[i]
LOCALES = (  # locale, UTC offset in minutes, share of learners
    ("en-US", -300, 0.33),
    ("en-GB", 0, 0.12),
    ("de-DE", 60, 0.10),
    ("fr-FR", 60, 0.07),
    ("es-ES", 60, 0.06),
    ("en-IN", 330, 0.12),
    ("pt-BR", -180, 0.08),
    ("en-CA", -300, 0.04),
    ("nl-NL", 60, 0.04),
    ("ja-JP", 540, 0.04),
)
USER_AGENTS = (  # the last two are the mobile app, which writes local time with its offset
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Pathwise/4.12 (iPhone; iOS 18.1; Scale/3.00)",
    "Pathwise/4.12 (Linux; Android 15; Pixel 8)",
)
AGENT_SHARES = (0.35, 0.2, 0.1, 0.2, 0.15)
FIRST_NAMES = ("ana", "ben", "chen", "dara", "elif", "femi", "gita", "hugo", "ines", "jon", "kim")
LAST_NAMES = ("silva", "nguyen", "okafor", "muller", "garcia", "tanaka", "smith", "rossi", "patel")
MAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "example.org")
IP_FIRST_OCTETS = (23, 31, 45, 62, 77, 81, 92, 104, 151, 176, 185, 203, 212)


@dataclass
class Learners:
    user_id: pl.Series
    style: np.ndarray  # index into STYLES (= index of the preferred format)
    role: np.ndarray  # index into Roles
    level: np.ndarray  # latent skill level on the difficulty scale, at sign-up
    pref: np.ndarray  # [learner, category] topic preference, mean 1
    knows: np.ndarray  # [learner, topic] already has the topic's main skill
    current_skills: pl.Series  # list[str]
    weekly_minutes: np.ndarray
    days_per_week: np.ndarray
    engagement: np.ndarray  # propensity to show up on a planned day, at sign-up
    signup_day: np.ndarray
    hour_utc: np.ndarray  # preferred session start
    offset_ms: np.ndarray  # UTC offset the learner's client writes into timestamps
    suffix: pl.Series  # the matching timestamp suffix: 'Z', '+01:00', '-05:00', ...
    stated_format: pl.Series  # preferred_format in the profile (null: not stated)
    grant_day: np.ndarray  # day they plan to grant fine consent, -1 never
    revoke_day: np.ndarray  # day they plan to withdraw it again, -1 never
    context: pl.Series  # JSON context object (personal data)
    truth: pl.DataFrame = field(init=False)  # planted traits, from the fields above

    def subset(self, u: np.ndarray) -> Learners:
        """Learners `u` only, numbered 0..len(u)-1 in that order."""
        values = {
            f.name: getattr(self, f.name)[u]
            if isinstance(getattr(self, f.name), np.ndarray)
            else getattr(self, f.name).gather(u)
            for f in fields(self)
            if f.init
        }
        chosen = Learners(**values)
        chosen.truth = self.truth[u]
        return chosen


def make_learners(
    seed: int, n: int, days: int, catalog: Catalog, roles: Roles, skills: pl.DataFrame
) -> Learners:
    """`n` learners signing up over `days` days, with the traits of the module docstring."""
    rng = random_stream(seed, 2)
    # An affine map mod 16^10 with an odd factor is a bijection: distinct, random-looking ids.
    factor, shift = np.uint64(2 * rng.integers(1, 2**39) + 1), np.uint64(rng.integers(0, 2**40))
    user_id = hex_ids(
        (np.arange(n, dtype=np.uint64) * factor + shift) % np.uint64(2**40), 10, "usr_"
    )
    style = rng.choice(3, n, p=[0.4, 0.3, 0.3])
    role = rng.choice(len(roles.codes), n, p=roles.weight)
    level = 0.6 + 2.6 * rng.beta(2, 2.2, n)

    # Topic preferences: personal taste mixed with what the target role needs.
    k = catalog.n_categories
    role_profile = np.stack(
        [catalog.role_fit[:, catalog.category == j].mean(axis=1) for j in range(k)], axis=1
    )
    role_profile /= role_profile.sum(axis=1, keepdims=True) + 1e-9
    pref = k * (0.5 * rng.dirichlet(np.full(k, 0.4), n) + 0.5 * role_profile[role])
    current_skills, knows = _current_skills(rng, role, catalog, roles, skills)

    weekly_minutes = np.clip(rng.lognormal(np.log(150), 0.6, n), 30, 1200).round().astype(int)
    days_per_week = np.clip(1.5 + weekly_minutes / 90, 1.5, 6)
    engagement = rng.beta(4, 1.5, n)
    signup_day = np.where(rng.random(n) < 0.4, 0, rng.integers(0, days, n))

    locale_names, locale_offsets, locale_shares = (np.array(x) for x in zip(*LOCALES, strict=True))
    locale = rng.choice(len(LOCALES), n, p=locale_shares)
    agent = rng.choice(len(USER_AGENTS), n, p=AGENT_SHARES)
    app = agent >= 3
    suffixes = np.array(
        [f"{'+' if o >= 0 else '-'}{abs(o) // 60:02d}:{abs(o) % 60:02d}" for o in locale_offsets]
    )
    local_hour = rng.choice([7.5, 12.5, 20.0], n, p=[0.3, 0.2, 0.5]) + rng.normal(0, 0.8, n)

    stated = np.where(rng.random(n) < 0.75, style, rng.integers(0, 3, n))
    stated_format = pl.Series(np.array(FORMATS)[stated]).scatter(
        np.flatnonzero(rng.random(n) < 0.3), None
    )

    # Fine consent: ~60% grant it, most at sign-up, some days later; some withdraw it again.
    grants = rng.random(n) < 0.6
    grant_day = np.where(
        grants, signup_day + np.where(rng.random(n) < 0.7, 0, rng.integers(1, 11, n)), -1
    )
    revoke_day = np.where(grants & (rng.random(n) < 0.12), grant_day + rng.integers(2, 15, n), -1)

    learners = Learners(
        user_id=user_id,
        style=style,
        role=role,
        level=level,
        pref=pref,
        knows=knows,
        current_skills=current_skills,
        weekly_minutes=weekly_minutes,
        days_per_week=days_per_week,
        engagement=engagement,
        signup_day=signup_day,
        hour_utc=(local_hour - locale_offsets[locale] / 60) % 24,
        offset_ms=np.where(app, locale_offsets[locale], 0).astype(np.int64) * 60_000,
        suffix=pl.Series(np.where(app, suffixes[locale], "Z")),
        stated_format=stated_format,
        grant_day=grant_day,
        revoke_day=revoke_day,
        context=_context(rng, agent, locale_names[locale]),
    )
    learners.truth = _truth(learners, catalog, roles, locale_names[locale], locale_offsets[locale])
    return learners


def _current_skills(
    rng: np.random.Generator,
    role: np.ndarray,
    catalog: Catalog,
    roles: Roles,
    skills: pl.DataFrame,
) -> tuple[pl.Series, np.ndarray]:
    """Each of the role's most demanded skills is known with probability 0.3. Returns the
    profile's current_skills lists and [learner, topic]: already has the topic's main skill."""
    n = len(role)
    known = rng.random((n, ROLE_TOP_SKILLS)) < 0.3
    known_skills = roles.top_skills[role]
    names = skills["skill_name"].to_numpy()
    offsets = np.concatenate([[0], np.cumsum(known.sum(axis=1))]).astype(np.int32)
    values = pa.array(names[known_skills[known]], pa.string())
    current_skills = pl.Series("current_skills", pa.ListArray.from_arrays(offsets, values))
    topic_of_skill = np.full(skills.height, -1)
    topic_of_skill[catalog.topic_skill] = np.arange(len(catalog.topic_skill))
    knows = np.zeros((n, len(catalog.topic_skill)), dtype=bool)
    learner, j = np.nonzero(known)
    t = topic_of_skill[known_skills[learner, j]]
    knows[learner[t >= 0], t[t >= 0]] = True
    return current_skills, knows


def _context(rng: np.random.Generator, agent: np.ndarray, locale: np.ndarray) -> pl.Series:
    """The personal data a client sends along (JSON): e-mail, IPv4 address, user agent, locale."""
    n = len(agent)
    octets = rng.integers(1, 255, (n, 4))
    octets[:, 0] = rng.choice(IP_FIRST_OCTETS, n)
    return (
        pl.DataFrame(
            {
                "first": rng.choice(FIRST_NAMES, n),
                "last": rng.choice(LAST_NAMES, n),
                "num": rng.integers(1, 100, n),
                "domain": rng.choice(MAIL_DOMAINS, n),
                "ip": octets,
            }
        )
        .select(
            pl.struct(
                email=pl.format("{}.{}{}@{}", "first", "last", "num", "domain"),
                ip=pl.col("ip").arr.eval(pl.element().cast(pl.String)).arr.join("."),
                user_agent=pl.lit(pl.Series(np.array(USER_AGENTS)[agent])),
                locale=pl.lit(pl.Series(locale)),
            ).struct.json_encode()
        )
        .to_series()
    )


def _truth(
    lrn: Learners, catalog: Catalog, roles: Roles, locale: np.ndarray, utc_offset: np.ndarray
) -> pl.DataFrame:
    """Planted traits for evaluations (truth/learners.parquet).

    skill_level: latent level at sign-up on the difficulty scale; engagement: propensity to
    come back; fine_consent: plans to grant fine consent (`simulate` adds fine_granted_at /
    fine_revoked_at: when the consent events were sent).
    """
    category_names = np.array(sorted(catalog.courses["category"].unique()))
    return pl.DataFrame(
        {
            "user_id": lrn.user_id,
            "learning_style": np.array(STYLES)[lrn.style],
            "target_role": np.array(roles.titles)[lrn.role],
            "target_onet_soc_code": np.array(roles.codes)[lrn.role],
            "skill_level": lrn.level.round(3),
            "current_skills": lrn.current_skills,
            "preferred_categories": category_names[np.argsort(-lrn.pref, axis=1)[:, :3]].tolist(),
            "weekly_minutes": lrn.weekly_minutes,
            "days_per_week": lrn.days_per_week.round(2),
            "engagement": lrn.engagement.round(3),
            "signup_day": lrn.signup_day,
            "locale": locale,
            "utc_offset_minutes": utc_offset,
            "stated_format": lrn.stated_format,
            "fine_consent": lrn.grant_day >= 0,
        }
    )
