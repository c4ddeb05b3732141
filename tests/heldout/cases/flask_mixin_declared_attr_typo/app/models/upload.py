from app.extensions import db
from app.models.mixins import TimestampMixin
from app.models.ownership import OwnedMixin


class Upload(OwnedMixin, TimestampMixin, db.Model):
    __tablename__ = "uploads"

    id = db.Column(db.Integer, primary_key=True)
    filename = db.Column(db.String(255), nullable=False)
    content_type = db.Column(db.String(100))
    size = db.Column(db.Integer)
