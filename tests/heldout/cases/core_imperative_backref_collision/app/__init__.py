"""Job scheduler: Core tables, classically mapped domain objects."""
