from .item import Item, ItemStatus
from .notification import EmailNotification, Notification, WebhookNotification
from .project import Project, ProjectMember
from .user import User

__all__ = [
    "EmailNotification",
    "Item",
    "ItemStatus",
    "Notification",
    "Project",
    "ProjectMember",
    "User",
    "WebhookNotification",
]
