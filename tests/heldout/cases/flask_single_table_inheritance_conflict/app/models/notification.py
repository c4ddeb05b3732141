from app.extensions import db
from app.models.mixins import utcnow


class Notification(db.Model):
    __tablename__ = "notifications"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    kind = db.Column(db.String(20), nullable=False)
    timestamp = db.Column(db.Float, index=True, default=lambda: utcnow().timestamp())

    __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "notification"}


class NewFollower(Notification):
    follower_id = db.Column(db.Integer)

    __mapper_args__ = {"polymorphic_identity": "new_follower"}


class NewComment(Notification):
    comment_id = db.Column(db.Integer)
    timestamp = db.Column(db.DateTime)

    __mapper_args__ = {"polymorphic_identity": "new_comment"}
