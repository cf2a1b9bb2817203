"""Service endpoints: health check."""
