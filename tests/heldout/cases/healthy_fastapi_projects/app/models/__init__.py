from .item import Item, ItemStatus
from .project import Project, ProjectMember
from .user import User

__all__ = ["Item", "ItemStatus", "Project", "ProjectMember", "User"]
