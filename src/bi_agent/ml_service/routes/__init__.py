"""One router per resource of the ML service."""
