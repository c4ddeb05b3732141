from sqlalchemy import JSON, Column


class ExtraDataMixin:
    """Free-form key/value data attached by integrations (Shopify, Stripe)."""

    metadata = Column(JSON, nullable=False, default=dict)
