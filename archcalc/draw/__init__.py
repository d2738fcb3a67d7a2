"""Drawings of a network: the volume figure (volumes.py) and graph diagrams."""
