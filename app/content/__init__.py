"""The curriculum as files: checking them and loading them into the database."""
