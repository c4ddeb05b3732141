"""Projects API (FastAPI + SQLAlchemy 2.0 models)."""
