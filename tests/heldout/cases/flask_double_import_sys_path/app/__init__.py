"""Microblog: a small Flask blog with users, posts, comments and tags."""

import os
import sys

from flask import Flask

from app.extensions import db

# scripts in app/ import "models" directly
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def create_app(config_object="app.config.Config"):
    app = Flask(__name__)
    app.config.from_object(config_object)
    db.init_app(app)
    return app
