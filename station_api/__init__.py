"""station_api package."""
