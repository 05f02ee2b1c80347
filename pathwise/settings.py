"""All configuration, read from the environment (and `.env`). `.env.example` documents each one."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATHWISE_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Folder for all runtime state: warehouse, vault, snapshots, indexes.",
    )
    pseudonym_key: SecretStr = Field(
        default=SecretStr("pathwise-dev-pseudonym-key-change-me"),
        description="Secret for HMAC-SHA256 pseudonyms (user_id -> learner_key). Set in production; "
        "changing it changes every learner_key.",
    )
    warehouse_key: SecretStr | None = Field(
        default=None,
        description="If set, the warehouse and the vault are encrypted at rest (AES-GCM) with it.",
    )
    max_event_bytes: int = Field(
        default=16_384, description="Events larger than this are quarantined as oversized."
    )
    max_clock_skew_hours: float = Field(
        default=24.0,
        description="Events dated later than ingest time plus this are quarantined.",
    )
    dedup_window_days: int = Field(
        default=7, description="Cross-batch de-duplication looks back this far by occurred_at."
    )
    threads: int | None = Field(default=None, description="DuckDB threads (default: all cores).")
    memory_limit: str | None = Field(default=None, description="DuckDB memory limit, e.g. '8GB'.")
    shared_data: Path = Field(
        default=SHARED_DATA,
        description="Folder with the public datasets (OULAD, COCO, O*NET, ESCO, content).",
    )

    @field_validator("home", "shared_data")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        # Subprocesses (dbt) and other working directories must see the same folder.
        return Path(v).expanduser().resolve()

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def vault_path(self) -> Path:
        return self.home / "vault.duckdb"

    @property
    def encrypted(self) -> bool:
        return bool(self.warehouse_key and self.warehouse_key.get_secret_value())


@lru_cache
def get_settings() -> Settings:
    """Settings for this process. Tests that change the environment call `get_settings.cache_clear()`."""
    return Settings()
