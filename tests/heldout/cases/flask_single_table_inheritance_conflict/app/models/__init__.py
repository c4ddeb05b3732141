from app.models.comment import Comment
from app.models.notification import NewComment, NewFollower, Notification
from app.models.post import Post, Tag, post_tags
from app.models.user import Follow, Role, User

__all__ = ["Comment", "Follow", "NewComment", "NewFollower", "Notification", "Post", "Role", "Tag", "User", "post_tags"]
