"""Loads the real-service fixtures for every integration test."""

pytest_plugins = ["integration.fixtures.plugin"]
