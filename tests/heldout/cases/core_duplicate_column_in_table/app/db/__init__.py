from app.db.metadata import metadata

__all__ = ["metadata"]
