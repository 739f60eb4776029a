//! End-to-end test helpers for kcache (skeleton; the scenarios arrive with the e2e issue).
