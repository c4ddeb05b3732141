from app.extensions import db
from app.models.mixins import utcnow


class ActivityLog(db.Model):
    __tablename__ = "activity_log"

    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    action = db.Column(db.String(50), nullable=False)
    ip_address = db.Column(db.String(45))
    created_at = db.Column(db.DateTime, default=utcnow, nullable=False)
