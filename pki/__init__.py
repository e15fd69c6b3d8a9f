"""pki package."""
