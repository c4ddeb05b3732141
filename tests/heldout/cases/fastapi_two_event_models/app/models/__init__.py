from . import activity, calendar  # noqa: F401
from .item import Item, ItemStatus
from .project import Project, ProjectMember
from .user import User

__all__ = ["Item", "ItemStatus", "Project", "ProjectMember", "User"]
