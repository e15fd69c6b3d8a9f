"""reader package."""
