"""End-to-end: a real Docker engine and Compose v2 (see engine.py)."""
