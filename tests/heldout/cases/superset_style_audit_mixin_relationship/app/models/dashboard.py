from app.extensions import db
from app.models.audit import AuditMixin
from app.models.mixins import TimestampMixin


class Dashboard(AuditMixin, TimestampMixin, db.Model):
    __tablename__ = "dashboards"

    id = db.Column(db.Integer, primary_key=True)
    dashboard_title = db.Column(db.String(500))
    position_json = db.Column(db.Text)
    slug = db.Column(db.String(255), unique=True)
    published = db.Column(db.Boolean, default=False)
