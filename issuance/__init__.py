"""issuance package."""
