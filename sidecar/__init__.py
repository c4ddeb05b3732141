"""sidecar: a startup health-check sidecar and diagnostics daemon for SQLAlchemy backends."""

__version__ = "0.1.0"
