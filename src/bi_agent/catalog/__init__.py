"""Catalog domain: datasets, their columns, imports (metrics, queries and rollups follow)."""
