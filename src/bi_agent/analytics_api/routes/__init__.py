"""One router per resource of the Analytics API."""
