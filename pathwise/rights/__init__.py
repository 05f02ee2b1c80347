"""Data-subject rights: one registry of every store that holds learner data (`stores`), erasure
(`erase`) and export (`export`) walking it. See docs/privacy.md#rights."""
