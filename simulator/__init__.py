"""A local, persistent stand-in for the Nextry image-generation API (see app.py)."""
