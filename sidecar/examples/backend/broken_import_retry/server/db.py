"""The one Flask-SQLAlchemy extension object, imported as ``server.db`` everywhere."""

from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
