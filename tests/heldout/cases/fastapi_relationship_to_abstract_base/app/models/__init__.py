from .attachment import Attachment, Avatar, Upload
from .item import Item, ItemStatus
from .project import Project, ProjectMember
from .user import User

__all__ = ["Attachment", "Avatar", "Item", "ItemStatus", "Project", "ProjectMember", "Upload", "User"]
