from app.models.comment import Comment
from app.models.post import Post, Tag, post_tags
from app.models.user import Follow, Role, User

__all__ = ["Comment", "Follow", "Post", "Role", "Tag", "User", "post_tags"]
