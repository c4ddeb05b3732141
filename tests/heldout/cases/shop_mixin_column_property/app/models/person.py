from sqlalchemy import Column, String
from sqlalchemy.orm import column_property


class PersonNameMixin:
    first_name = Column(String(100))
    last_name = Column(String(100))
    display_name = column_property(first_name + " " + last_name)
