"""Extractors: read a source system and write what changed to a file the loader loads."""
