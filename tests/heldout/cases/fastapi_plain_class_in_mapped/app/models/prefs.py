class NotificationPrefs:
    """What a user wants to be told about."""

    def __init__(self, email=True, digest="daily"):
        self.email = email
        self.digest = digest
