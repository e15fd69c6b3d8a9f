"""population package."""
