"""Closing the loop: feedback events, experiment assignment, monitoring inputs."""
