"""Reflex only: pages, components and states. Handlers guard, call one service, copy rows."""
