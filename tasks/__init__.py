"""The Huey instance: Redis when REDIS_URL is set, otherwise SQLite in var/.

Task modules are thin wrappers around membook_app services; importing
`tasks.registry` loads them all (the consumer and `membook worker` do).
"""

from __future__ import annotations

from huey import Huey, RedisHuey, SqliteHuey

from membook_app.settings import get_settings


def make_huey() -> Huey:
    """Build the queue named by the settings (tests build their own on a real Redis)."""
    settings = get_settings()
    if settings.redis_url:
        return RedisHuey(settings.huey_name, url=settings.redis_url)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(settings.huey_name, filename=str(settings.var_dir / "huey.db"))


huey = make_huey()
