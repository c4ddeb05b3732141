"""Example backend in the shape of the incident: a Flask app whose models live in
``server/models_sql.py`` (Flask-SQLAlchemy) plus a few plain SQLAlchemy 2.x models."""
