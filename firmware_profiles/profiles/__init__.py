"""The shipped firmware profiles: one JSON file per chip product, see `load_profile`."""
