from app.models.catalog import Category, Product
from app.models.customer import Address, Customer
from app.models.order import Order, OrderLine

__all__ = ["Address", "Category", "Customer", "Order", "OrderLine", "Product"]
