"""Microblog: a small Flask blog with users, posts, comments and tags."""

from flask import Flask

from app.extensions import db


def create_app(config_object="app.config.Config"):
    app = Flask(__name__)
    app.config.from_object(config_object)
    db.init_app(app)
    return app
