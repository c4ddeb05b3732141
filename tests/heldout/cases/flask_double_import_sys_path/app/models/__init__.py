from .comment import Comment
from .post import Post, Tag, post_tags
from .user import Follow, Role, User

__all__ = ["Comment", "Follow", "Post", "Role", "Tag", "User", "post_tags"]
