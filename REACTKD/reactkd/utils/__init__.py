"""Small helpers shared across the core."""
