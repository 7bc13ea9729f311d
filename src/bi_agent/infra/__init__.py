"""Infrastructure: the only layer that opens connections or starts servers."""
