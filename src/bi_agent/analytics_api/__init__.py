"""The Analytics API (port 3000): auth, datasets, metrics, queries, dashboards, jobs."""
