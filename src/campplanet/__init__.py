"""campplanet: gathers the blog write-ups of a community event into one page and one feed."""

__version__ = "0.1.0"
