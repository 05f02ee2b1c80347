"""The agent layer: observe marts and ML tables, decide within the guardrails, act through the outbox, measure against a holdout."""
