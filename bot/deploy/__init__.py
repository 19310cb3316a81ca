"""Continuous delivery and deployment: green builds go through the environments."""
