"""All configuration, read from the environment (and `.env`). `.env.example` documents each one."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
# Development only: pathwise/production.py refuses it (and warns about it in development).
DEFAULT_PSEUDONYM_KEY = "pathwise-dev-pseudonym-key-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATHWISE_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = Field(
        default="development",
        description="'production' refuses to start the app, `pathwise serve` and `pathwise nightly` "
        "with the default or a short pseudonym key, demo accounts or no at-rest key "
        "(pathwise/production.py).",
    )
    home: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Folder for all runtime state: warehouse, vault, snapshots, indexes.",
    )
    pseudonym_key: SecretStr = Field(
        default=SecretStr(DEFAULT_PSEUDONYM_KEY),
        description="Secret for HMAC-SHA256 pseudonyms (user_id -> learner_key). Set in production; "
        "changing it changes every learner_key.",
    )
    warehouse_key: SecretStr | None = Field(
        default=None,
        description="If set, everything Pathwise keeps about learners under PATHWISE_HOME is "
        "encrypted at rest with it (the warehouse, snapshots, the recommendation log, accounts, "
        "controls, API keys), but the vault (docs/privacy.md).",
    )
    vault_key: SecretStr | None = Field(
        default=None,
        description="If set, the identity vault (platform user ids, quarantined originals) is "
        "encrypted at rest with it; never the warehouse key. Unset: the vault is a plain file.",
    )
    landing_volume_encrypted: bool = Field(
        default=False,
        description="The operator vouches that PATHWISE_HOME/landing (platform files, plain) is on "
        "a volume encrypted below what the machine can see (a cloud provider's disk encryption). "
        "Needed in production when landing holds files and no dm-crypt/LUKS device is found.",
    )
    max_event_bytes: int = Field(
        default=16_384, description="Events larger than this are quarantined as oversized."
    )
    max_clock_skew_hours: float = Field(
        default=24.0,
        description="Events dated later than ingest time plus this are quarantined.",
    )
    retention_months: int = Field(
        default=24,
        ge=0,
        description="Learner data older than this many months (events, quarantine rows, logs, "
        "landing files, snapshots, derived rows) is purged every night (pathwise/rights/"
        "retention.py; `pathwise privacy purge --dry-run` shows what would go). 0 keeps "
        "everything: only for public research data (OULAD's events are from 2013-2014).",
    )
    dedup_window_days: int = Field(
        default=7, description="Cross-batch de-duplication looks back this far by occurred_at."
    )
    undeclared_properties: str = Field(
        default="drop",
        pattern="^(drop|quarantine)$",
        description="Properties the contract does not declare for an event's type: 'drop' them "
        "(the event loads; counted per batch as undeclared_dropped) or 'quarantine' the event.",
    )
    threads: int | None = Field(default=None, description="DuckDB threads (default: all cores).")
    memory_limit: str | None = Field(default=None, description="DuckDB memory limit, e.g. '8GB'.")
    shared_data: Path = Field(
        default=SHARED_DATA,
        description="Folder with the public datasets (OULAD, COCO, O*NET, ESCO, content).",
    )

    snapshots_keep: int = Field(
        default=5,
        ge=2,
        description="Published serving snapshots kept on disk (for `pathwise publish --rollback`).",
    )
    drift_threshold: float = Field(
        default=0.15,
        gt=0,
        description="PSI of a score or feature distribution at which a drift alert is raised.",
    )
    drift_kpi_threshold: float = Field(
        default=0.10,
        gt=0,
        description="Relative change of a KPI from its baseline window at which a drift alert is "
        "raised (rates must also differ beyond chance, z >= 3).",
    )
    drift_webhook_url: str | None = Field(
        default=None, description="If set, drift alerts are also POSTed here as JSON."
    )
    dropout_min_auc: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="A dropout checkpoint whose forward-validation ROC-AUC is below this, or not "
        "above both baselines' (logistic regression, at-risk rule), is scored but not used for "
        "decisions (ml.dropout_risk.used_for_decisions = false).",
    )
    fairness_max_gap: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="A segment (e.g. an age band) whose ROC-AUC trails the model's on all test "
        "learners by more than this raises a fairness alert (ml/fairness.py).",
    )

    # Course Q&A (rag/, docs/rag.md)
    rag_backend: str = Field(
        default="extractive",
        pattern="^(extractive|openai)$",
        description="Answer backend: 'extractive' (offline: composed from passages) or 'openai' "
        "(any OpenAI-compatible chat endpoint; falls back to extractive on errors).",
    )
    rag_top_k: int = Field(default=5, ge=1, le=50, description="Passages retrieved per question.")
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible base URL (unset = OpenAI); https, or plain http to a host "
        "in allow_plaintext_hosts, e.g. http://127.0.0.1:8080/v1.",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Chat model name at that endpoint.")
    llm_api_key: SecretStr | None = Field(default=None, description="API key for the endpoint.")
    llm_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds before the LLM call gives up (then extractive)."
    )
    onboarding_backend: str = Field(
        default="offline",
        pattern="^(offline|openai)$",
        description="Learning-path onboarding: 'offline' (deterministic dialogue) or 'openai' (the "
        "llm_* endpoint reads each turn's slots; any failure falls back to offline with a notice).",
    )
    embedding_backend: str = Field(
        default="onnx",
        pattern="^(onnx|openai)$",
        description="'onnx' (offline all-MiniLM-L6-v2 int8) or 'openai' (an /embeddings endpoint). "
        "Changing it (or the model) rebuilds the index.",
    )
    embedding_model: str | None = Field(
        default=None, description="Embedding model name for embedding_backend=openai."
    )
    embedding_dims: int | None = Field(
        default=None, description="Vector width of that model (e.g. 1536)."
    )
    embedding_base_url: str | None = Field(
        default=None, description="Embeddings endpoint base URL (default: llm_base_url)."
    )
    embedding_api_key: SecretStr | None = Field(
        default=None, description="Key for the embeddings endpoint (default: llm_api_key)."
    )
    embedding_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds one request to the embeddings endpoint may take. Indexing sends 64 "
        "passages a request: a base-size model on a CPU needs several seconds for that.",
    )

    # Read API (apps/api.py, docs/serving.md)
    api_rate_limit_per_minute: int = Field(
        default=6000,
        ge=1,
        description="Requests a minute one API key may make (bursts up to as many); beyond it the "
        "API answers 429 with Retry-After. Counted per server process.",
    )

    # Apps (apps/, docs/apps.md)
    session_expiry_minutes: int = Field(
        default=60, ge=1, description="An app sign-in lasts this long, then asks again."
    )
    signin_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed app sign-ins for one username within signin_window_minutes that lock it.",
    )
    signin_client_max_failures: int = Field(
        default=20,
        ge=1,
        description="Failed sign-ins from one client address (any usernames) within the window that "
        "lock that address (higher: people behind one proxy share it).",
    )
    signin_window_minutes: float = Field(
        default=15, gt=0, description="Failed sign-ins older than this no longer count."
    )
    signin_lockout_minutes: float = Field(
        default=15, gt=0, description="How long a locked username or client address is refused."
    )
    k_anonymity: int = Field(
        default=10,
        ge=2,
        description="Smallest group of learners an instructor may see (same as dbt's k_anonymity).",
    )
    demo_password: SecretStr = Field(
        default=SecretStr("pathwise-demo"),
        description="DEMO ONLY: password of the admin/instructor/learner accounts `pathwise users "
        "demo` creates. Never use demo accounts outside a demo.",
    )

    # Agents (agents/, pathwise/outbox.py): guardrails every agent obeys, and the channels
    agents_max_per_day: int = Field(
        default=1, ge=0, description="Messages one learner may get from all agents in a day."
    )
    agents_max_per_week: int = Field(
        default=3, ge=0, description="Messages one learner may get from all agents in 7 days."
    )
    agents_quiet_hours: str = Field(
        default="21-8",
        pattern=r"^([01]?\d|2[0-3])-([01]?\d|2[0-3])$",
        description="Local hours 'start-end' in which no e-mail or webhook goes out (deferred to "
        "the end), in the learner's time zone where known, else agents_default_timezone.",
    )
    agents_default_timezone: str = Field(
        default="UTC", description="IANA time zone for quiet hours of learners whose is unknown."
    )
    agents_holdout_share: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Share of learners no agent contacts (a keyed hash decides who, stably), so "
        "every agent's uplift can be measured against them.",
    )
    campaign_holdout_share: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="Share of each campaign's audience kept out as its control group, on top of "
        "agents_holdout_share. 20% keeps the treated arm large while a 50-learner cohort still has "
        "a 10-learner holdout; more narrows the measured uplift's interval.",
    )
    agents_max_attempts: int = Field(
        default=5, ge=1, description="Delivery attempts of a message before it is dead-lettered."
    )
    agents_retry_base_seconds: float = Field(
        default=60, ge=0, description="Wait before the first retry; it doubles on each attempt."
    )
    reengage_inactive_days: int = Field(
        default=7, ge=1, description="Re-engagement: days without activity that call for a nudge."
    )
    reengage_inactive_days_by_course: dict[str, int] = Field(
        default_factory=dict,
        description='Per-course thresholds over reengage_inactive_days, JSON: {"C0001": 10}.',
    )
    reengage_risk_band: Literal["high", "medium"] = Field(
        default="high",
        description="Re-engagement: nudge open enrolments whose dropout risk band is at least "
        "this (only where the model is validated for decisions).",
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for e-mail nudges.")
    smtp_port: int = Field(default=587, description="SMTP port (STARTTLS unless allowed plain).")
    smtp_username: str | None = Field(default=None, description="SMTP login, if it needs one.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_from: str = Field(
        default="Pathwise <nudges@pathwise.invalid>", description="From: of e-mail nudges."
    )
    agents_webhook_url: str | None = Field(
        default=None,
        description="The platform's endpoint for nudges (POSTed JSON, HMAC-SHA256-signed).",
    )
    agents_webhook_secret: SecretStr | None = Field(
        default=None, description="Secret that signs webhook bodies (X-Pathwise-Signature)."
    )

    # Encryption in transit (pathwise/tls.py, docs/privacy.md "In transit")
    tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) that `pathwise serve` and `pathwise app` present "
        "over HTTPS (`make dev-cert` makes a local one). Needed beyond loopback and in production.",
    )
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert (0600).")
    allow_plaintext_listen: bool = Field(
        default=False,
        description="Let the servers speak plain HTTP beyond loopback without a certificate (only "
        "behind a proxy that terminates TLS on a private network; refused in production).",
    )
    allow_plaintext_hosts: str = Field(
        default="",
        description="Comma-separated hosts that outgoing calls (LLM, embeddings, webhook) may reach "
        "over plain http, e.g. '127.0.0.1,localhost' for a local model. Empty: https only.",
    )
    trusted_ca_file: Path | None = Field(
        default=None,
        description="PEM CA certificates that outgoing HTTPS calls trust besides the public roots "
        "(a company CA, or the one `make dev-cert` makes).",
    )

    @field_validator("tls_cert", "tls_key", "trusted_ca_file", mode="before")
    @classmethod
    def _absolute_or_none(cls, v: str | Path | None) -> Path | None:
        # An empty value (`PATHWISE_TLS_CERT=`) means unset, as for the warehouse key.
        return None if v is None or v == "" else Path(v).expanduser().resolve()

    @property
    def plaintext_hosts(self) -> frozenset[str]:
        """Hosts named in allow_plaintext_hosts, lower-cased."""
        return frozenset(
            h.strip().lower() for h in self.allow_plaintext_hosts.split(",") if h.strip()
        )

    @field_validator("home", "shared_data")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        # Subprocesses (dbt) and other working directories must see the same folder.
        return Path(v).expanduser().resolve()

    # Every file and folder under PATHWISE_HOME is named here, and only here.
    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def vault_path(self) -> Path:
        return self.home / "vault.duckdb"

    @property
    def landing_dir(self) -> Path:
        """Platform files waiting to be ingested: one folder per source (catalog/ + events/)."""
        return self.home / "landing"

    @property
    def snapshots_dir(self) -> Path:
        return self.home / "snapshots"

    @property
    def rec_log_dir(self) -> Path:
        return self.home / "rec_log"

    @property
    def controls_path(self) -> Path:
        """Admin controls and their audit log (SQLite: the app writes while others read)."""
        return self.home / "controls.sqlite"

    @property
    def outbox_path(self) -> Path:
        """Agents' messages and decisions (SQLite: the nightly flow writes, the API reads)."""
        return self.home / "outbox.sqlite"

    @property
    def learning_paths_path(self) -> Path:
        """Learners' onboarding, goals, paths and their change log (SQLite: the app and the API
        write while the nightly re-plans)."""
        return self.home / "learning_paths.sqlite"

    @property
    def api_keys_path(self) -> Path:
        """Read-API keys, hashed (JSON, mode 0600): `pathwise keys`."""
        return self.home / "api_keys.json"

    @property
    def users_path(self) -> Path:
        """App accounts (SQLite)."""
        return self.home / "users.sqlite"

    @property
    def lancedb_dir(self) -> Path:
        """The course Q&A index."""
        return self.home / "lancedb"

    @property
    def rag_eval_cache_dir(self) -> Path:
        """Baseline indexes `pathwise evaluate rag` builds once and reuses."""
        return self.home / "rag_eval_cache"

    @property
    def dbt_target_dir(self) -> Path:
        return self.home / "dbt" / "target"

    @property
    def dbt_log_dir(self) -> Path:
        return self.home / "dbt" / "logs"

    @property
    def duckdb_extensions_dir(self) -> Path:
        """Where dbt-duckdb installs the local httpfs copy (named in profiles.yml too)."""
        return self.home / "duckdb_extensions"

    @property
    def benchmarks_dir(self) -> Path:
        """Benchmark results (JSON)."""
        return self.home / "benchmarks"

    @property
    def tls_dir(self) -> Path:
        """The local CA and server certificate `pathwise dev-cert` makes (development only)."""
        return self.home / "tls"

    @property
    def encryption_key(self) -> str | None:
        """The at-rest key, or None when unset or empty (plain files)."""
        key = self.warehouse_key.get_secret_value() if self.warehouse_key else ""
        return key or None

    @property
    def encrypted(self) -> bool:
        return self.encryption_key is not None

    @property
    def vault_encryption_key(self) -> str | None:
        """The vault's own at-rest key, or None when unset or empty (a plain vault)."""
        key = self.vault_key.get_secret_value() if self.vault_key else ""
        return key or None


@lru_cache
def get_settings() -> Settings:
    """Settings for this process. Tests that change the environment call `get_settings.cache_clear()`."""
    return Settings()
