from sqlalchemy.orm import declared_attr

from app.extensions import db


class OwnedMixin:
    """Rows that belong to a user (posts, drafts, uploads)."""

    @declared_attr
    def owner_id(cls):
        return db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)

    @declared_attr
    def owner(cls):
        return db.relationship("Usr")
