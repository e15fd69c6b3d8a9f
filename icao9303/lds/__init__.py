"""The logical data structure of ICAO 9303-10: every LDS file as a class with from_bytes/to_bytes."""
