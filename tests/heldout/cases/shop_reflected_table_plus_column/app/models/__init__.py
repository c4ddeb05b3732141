from app.models.catalog import Category, Product
from app.models.customer import Address, Customer
from app.models.legacy_erp import ErpInvoice
from app.models.order import Order, OrderLine

__all__ = ["Address", "Category", "Customer", "ErpInvoice", "Order", "OrderLine", "Product"]
