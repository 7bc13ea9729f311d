"""The Celery worker and beat: background work on queues `analytics`, `ml` and `data`."""
