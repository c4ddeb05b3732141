from app.models.catalog import Category, Product
from app.models.customer import Address, Customer
from app.models.order import Order, OrderLine
from app.models.wishlist import WishlistItem

__all__ = ["Address", "Category", "Customer", "Order", "OrderLine", "Product", "WishlistItem"]
