from sqlalchemy import Column, Integer, Numeric, String, Table

from app.database import Base

erp_invoices = Table(
    "erp_invoices",
    Base.metadata,
    Column("invoice_no", String(20), primary_key=True),
    Column("customer_ref", String(20), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
)


class ErpInvoice(Base):
    """Invoices written by the old ERP; the table is theirs."""

    __table__ = erp_invoices

    vat_rate = Column(Integer, default=20)
