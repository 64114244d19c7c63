"""Platform settings: the stored key-value rows and the typed settings admins change."""
