"""The hand-over after a session: report, composite, full audio pass (a worker can run it)."""
