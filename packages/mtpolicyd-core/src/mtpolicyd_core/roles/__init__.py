"""Roles: behaviour shared by plugins, declared by inheriting the role (like option declarations)."""
