"""Flask-SQLAlchemy models of the example backend (the incident's ``server/models_sql.py``).

Importing this module needs no Flask app and no database: ``db.Model`` subclasses are mapped
at class-definition time against ``db.metadata``.
"""

from datetime import datetime, timezone

from server.db import db


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Business(db.Model):
    __tablename__ = "business"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    slug = db.Column(db.String(80), nullable=False, unique=True)
    phone_e164 = db.Column(db.String(32), nullable=True)
    timezone = db.Column(db.String(64), nullable=False, default="UTC")
    is_active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=_utcnow)

    users = db.relationship("User", back_populates="business", cascade="all, delete-orphan")
    customers = db.relationship("Customer", back_populates="business")
    security_events = db.relationship("SecurityEvent", back_populates="business")

    def __repr__(self) -> str:
        return f"<Business {self.slug}>"


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (db.UniqueConstraint("business_id", "email", name="uq_users_business_email"),)

    id = db.Column(db.Integer, primary_key=True)
    business_id = db.Column(db.Integer, db.ForeignKey("business.id"), nullable=False, index=True)
    email = db.Column(db.String(255), nullable=False)
    display_name = db.Column(db.String(120), nullable=True)
    role = db.Column(db.String(32), nullable=False, default="agent")
    password_hash = db.Column(db.String(255), nullable=True)
    last_login_at = db.Column(db.DateTime(timezone=True), nullable=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=_utcnow)

    business = db.relationship("Business", back_populates="users")
    security_events = db.relationship("SecurityEvent", back_populates="user")

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (db.Index("ix_customers_business_phone", "business_id", "phone_e164"),)

    id = db.Column(db.Integer, primary_key=True)
    business_id = db.Column(db.Integer, db.ForeignKey("business.id"), nullable=False)
    full_name = db.Column(db.String(200), nullable=True)
    phone_e164 = db.Column(db.String(32), nullable=False)
    notes = db.Column(db.Text, nullable=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=_utcnow)

    business = db.relationship("Business", back_populates="customers")
    calls = db.relationship("CallLog", back_populates="customer", order_by="CallLog.started_at")


class CallLog(db.Model):
    __tablename__ = "call_logs"

    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False, index=True)
    direction = db.Column(db.String(8), nullable=False)  # "inbound" | "outbound"
    started_at = db.Column(db.DateTime(timezone=True), nullable=False, default=_utcnow)
    duration_s = db.Column(db.Integer, nullable=True)
    recording_url = db.Column(db.String(500), nullable=True)
    summary = db.Column(db.Text, nullable=True)

    customer = db.relationship("Customer", back_populates="calls")


class SecurityEvent(db.Model):
    """Login failures, token misuse, rate-limit trips: an append-only audit of the edge."""

    __tablename__ = "security_events"

    id = db.Column(db.Integer, primary_key=True)
    business_id = db.Column(db.Integer, db.ForeignKey("business.id"), nullable=True, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)
    event_type = db.Column(db.String(64), nullable=False)
    severity = db.Column(db.String(16), nullable=False, default="info")
    ip_address = db.Column(db.String(45), nullable=True)
    user_agent = db.Column(db.String(500), nullable=True)
    # Was ``metadata`` until Migration 0002: that name is reserved by the Declarative API.
    event_metadata = db.Column(db.JSON, nullable=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=_utcnow)

    business = db.relationship("Business", back_populates="security_events")
    user = db.relationship("User", back_populates="security_events")
