from .audit import AuditLog
from .item import Item, ItemStatus
from .project import Project, ProjectMember
from .user import User

__all__ = ["AuditLog", "Item", "ItemStatus", "Project", "ProjectMember", "User"]
