from .document import Document
from .item import Item, ItemStatus
from .project import Project, ProjectMember
from .user import User

__all__ = ["Document", "Item", "ItemStatus", "Project", "ProjectMember", "User"]
