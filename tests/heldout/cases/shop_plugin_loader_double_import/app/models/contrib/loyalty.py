from sqlalchemy import Column, ForeignKey, Integer, String

from app.database import Base


class LoyaltyAccount(Base):
    __tablename__ = "loyalty_accounts"

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), unique=True, nullable=False)
    tier = Column(String(20), default="bronze")
    points = Column(Integer, default=0, nullable=False)
