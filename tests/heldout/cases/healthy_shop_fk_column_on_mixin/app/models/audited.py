from sqlalchemy import Column, ForeignKey, Integer


class CreatedByMixin:
    created_by_id = Column(Integer, ForeignKey("customers.id"), nullable=True)
