from .apikey import ApiKey
from .item import Item, ItemStatus
from .project import Project, ProjectMember
from .user import User

__all__ = ["ApiKey", "Item", "ItemStatus", "Project", "ProjectMember", "User"]
