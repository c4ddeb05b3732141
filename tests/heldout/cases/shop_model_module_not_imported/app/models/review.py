from sqlalchemy import Column, ForeignKey, Integer, SmallInteger, Text

from app.database import Base


class Review(Base):
    __tablename__ = "reviews"

    id = Column(Integer, primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    rating = Column(SmallInteger, nullable=False)
    body = Column(Text)
