import os


class Settings:
    PROJECT_NAME: str = "projects-api"
    SQLALCHEMY_DATABASE_URI: str = os.getenv("DATABASE_URL", "sqlite:///./projects.db")
    FIRST_SUPERUSER: str = os.getenv("FIRST_SUPERUSER", "admin@example.com")


settings = Settings()
