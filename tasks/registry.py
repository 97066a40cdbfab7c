"""Import every task module so the consumer knows all tasks and schedules."""

from tasks import (
    huey,
    mail,  # noqa: F401
)

__all__ = ["huey"]
