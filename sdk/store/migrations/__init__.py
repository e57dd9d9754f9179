"""Alembic migrations of the metadata store. Applied on first open, never at import."""
