from sqlalchemy.orm import registry, relationship

from app.db import tables
from app.db.metadata import metadata
from app.models.domain import Account, Dag, DagRun, TaskInstance

mapper_registry = registry(metadata=metadata)


def start_mappers():
    mapper_registry.map_imperatively(Account, tables.accounts)
    mapper_registry.map_imperatively(
        Dag,
        tables.dags,
        properties={"owner": relationship(Account, backref="dags")},
    )
    mapper_registry.map_imperatively(
        DagRun,
        tables.dag_runs,
        properties={"dag": relationship(Dag, backref="runs")},
    )
    mapper_registry.map_imperatively(
        TaskInstance,
        tables.task_instances,
        properties={"run": relationship(DagRun, backref="task_instances")},
    )
