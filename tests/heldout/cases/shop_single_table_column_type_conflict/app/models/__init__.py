from app.models.catalog import Category, Product
from app.models.customer import Address, Customer
from app.models.order import Order, OrderLine
from app.models.staff import Driver, Employee, Manager, Picker

__all__ = ["Address", "Category", "Customer", "Driver", "Employee", "Manager", "Order", "OrderLine", "Picker", "Product"]
