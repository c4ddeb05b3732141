"""Flask extensions, created once. Imported as ``server.extensions`` from everywhere -- so
there is exactly one ``db`` and one MetaData, whichever name ``models_sql`` is imported under."""

from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
