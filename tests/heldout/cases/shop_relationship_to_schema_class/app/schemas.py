from dataclasses import dataclass


@dataclass
class Address:
    """What the API returns for an address."""

    line1: str
    city: str
    postcode: str | None = None
    country: str = "GB"
