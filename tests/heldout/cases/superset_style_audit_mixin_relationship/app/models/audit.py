from sqlalchemy.orm import declared_attr

from app.extensions import db


class AuditMixin:
    """Who created and last changed a row."""

    @declared_attr
    def created_by_fk(cls):
        return db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)

    @declared_attr
    def changed_by_fk(cls):
        return db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)

    created_by = db.relationship("User", foreign_keys="[%(cls)s.created_by_fk]")
