"""The database: engine, the core records every area shares, and Alembic migrations.

Areas keep their own tables next to their code (``scheduling/tables.py`` ...), all on
``storage.db.Base``; their migrations live in ``storage/migrations/versions`` on a
branch of their own (``branch_labels=("scheduling",)``), so ``upgrade heads`` applies all.
"""
