from app.models.comment import Comment
from app.models.post import Post, Tag, post_tags
from app.models.upload import Upload
from app.models.user import Follow, Role, User

__all__ = ["Comment", "Follow", "Post", "Role", "Tag", "Upload", "User", "post_tags"]
