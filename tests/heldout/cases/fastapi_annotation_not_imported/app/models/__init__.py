from .invite import Invite
from .item import Item, ItemStatus
from .project import Project, ProjectMember
from .user import User

__all__ = ["Invite", "Item", "ItemStatus", "Project", "ProjectMember", "User"]
