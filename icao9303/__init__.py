"""icao9303 package."""
