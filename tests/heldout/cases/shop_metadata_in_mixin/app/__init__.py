"""Shop backend: customers, orders, catalog."""
