"""Outgoing mail: the outbox table, templates and SMTP delivery."""
