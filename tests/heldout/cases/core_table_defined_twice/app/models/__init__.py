from app.models.domain import Account, Dag, DagRun, TaskInstance
from app.models.mapping import mapper_registry, start_mappers

start_mappers()

__all__ = ["Account", "Dag", "DagRun", "TaskInstance", "mapper_registry"]
