import os

from app.models.catalog import Category, Product
from app.models.contrib.loyalty import LoyaltyAccount
from app.models.customer import Address, Customer
from app.models.order import Order, OrderLine
from app.plugins import load_plugins

plugins = load_plugins(os.path.join(os.path.dirname(__file__), "contrib"))

__all__ = ["Address", "Category", "Customer", "LoyaltyAccount", "Order", "OrderLine", "Product"]
