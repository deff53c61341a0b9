"""Deterministic data generators: the same seed gives the same bytes on every machine."""
