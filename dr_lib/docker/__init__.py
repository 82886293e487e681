"""The one door to the Docker engine and locally built images (no registry)."""
