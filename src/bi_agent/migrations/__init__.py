"""Alembic migrations of schema `bi` (platform metadata) and schema `analytics` (datasets)."""
