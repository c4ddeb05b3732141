from sqlalchemy import Column, Integer, Numeric, String

from app.database import Base


class Employee(Base):
    __tablename__ = "employees"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)
    type = Column(String(30), nullable=False)

    __mapper_args__ = {
        "polymorphic_identity": "employee",
        "polymorphic_on": type,
    }


class Picker(Employee):
    zone = Column(String(10))
    shift = Column(String(10))

    __mapper_args__ = {"polymorphic_identity": "picker"}


class Driver(Employee):
    licence_class = Column(String(5))
    route = Column(String(10))

    __mapper_args__ = {"polymorphic_identity": "driver"}


class Manager(Employee):
    __tablename__ = "managers"

    id = Column(Integer, primary_key=True)
    budget = Column(Numeric(12, 2))

    __mapper_args__ = {"polymorphic_identity": "manager"}
