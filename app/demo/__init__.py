"""Demo data for trying the application."""
