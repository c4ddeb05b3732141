from .item import Item, ItemStatus
from .label import Label, item_label
from .project import Project, ProjectMember
from .user import User

__all__ = ["Item", "ItemStatus", "Label", "Project", "ProjectMember", "User", "item_label"]
