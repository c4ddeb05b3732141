from sqlalchemy import Column, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import relationship

from app.database import Base
from app.models.mixins import TimestampMixin
from app.schemas import Address


class Order(TimestampMixin, Base):
    __tablename__ = "orders"

    id = Column(Integer, primary_key=True, index=True)
    number = Column(String(32), unique=True, nullable=False)
    status = Column(String(20), default="pending", nullable=False)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    shipping_address_id = Column(Integer, ForeignKey("addresses.id"))
    total = Column(Numeric(10, 2), default=0)

    customer = relationship("Customer", back_populates="orders")
    shipping_address = relationship(Address)
    lines = relationship("OrderLine", back_populates="order", cascade="all, delete-orphan")


class OrderLine(Base):
    __tablename__ = "order_lines"

    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    quantity = Column(Integer, default=1, nullable=False)
    unit_price = Column(Numeric(10, 2), nullable=False)

    order = relationship("Order", back_populates="lines")
    product = relationship("Product")
