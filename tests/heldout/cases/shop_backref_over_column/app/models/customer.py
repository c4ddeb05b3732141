from sqlalchemy import Boolean, Column, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from app.database import Base
from app.models.mixins import SoftDeleteMixin, TimestampMixin


class Customer(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "customers"

    id = Column(Integer, primary_key=True, index=True)
    email = Column(String(255), unique=True, index=True, nullable=False)
    first_name = Column(String(100))
    last_name = Column(String(100))
    is_active = Column(Boolean, default=True)
    order_count = Column(Integer, default=0)

    addresses = relationship("Address", back_populates="customer", cascade="all, delete-orphan")


class Address(Base):
    __tablename__ = "addresses"

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    line1 = Column(String(255), nullable=False)
    city = Column(String(100), nullable=False)
    postcode = Column(String(20))
    country = Column(String(2), default="GB")

    customer = relationship("Customer", back_populates="addresses")
