from .item import Item, ItemStatus
from .project import Project, ProjectMember
from .site import Site
from .user import User

__all__ = ["Item", "ItemStatus", "Project", "ProjectMember", "Site", "User"]
