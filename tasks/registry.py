"""Import every task module so the consumer knows all tasks and periodic schedules.

New task modules under `tasks/` are found automatically.
"""

import importlib
import pkgutil

import tasks
from tasks import huey

for _module in pkgutil.iter_modules(tasks.__path__, "tasks."):
    if _module.name != "tasks.registry":
        importlib.import_module(_module.name)

__all__ = ["huey"]
