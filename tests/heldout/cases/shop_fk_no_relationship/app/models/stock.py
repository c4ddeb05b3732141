from sqlalchemy import Column, DateTime, ForeignKey, Integer, String

from app.database import Base


class StockMovement(Base):
    __tablename__ = "stock_movements"

    id = Column(Integer, primary_key=True)
    product_id = Column(Integer, ForeignKey("product.id"), nullable=False)
    delta = Column(Integer, nullable=False)
    reason = Column(String(40), nullable=False)
    moved_at = Column(DateTime, nullable=False)
