"""Station API services: the domain operations the thin HTTP handlers call."""
