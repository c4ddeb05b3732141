from .handover import Handover
from .item import Item, ItemStatus
from .project import Project, ProjectMember
from .user import User

__all__ = ["Handover", "Item", "ItemStatus", "Project", "ProjectMember", "User"]
