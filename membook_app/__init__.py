"""Membook: membership register and member billing for Finnish associations."""
