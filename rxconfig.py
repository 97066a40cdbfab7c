"""Reflex configuration, derived from membook's own settings."""

from urllib.parse import urlsplit

import reflex as rx

from membook_app.settings import get_settings

_settings = get_settings()
_base = urlsplit(_settings.base_url)
_origins = {f"{_base.scheme}://{_base.netloc}"}
if _base.hostname in ("127.0.0.1", "localhost"):
    _port = _base.port or 80
    _origins |= {f"{_base.scheme}://{host}:{_port}" for host in ("127.0.0.1", "localhost")}

config = rx.Config(
    app_name="membook_app",
    db_url=_settings.database_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=_settings.port,
    backend_port=_settings.port,
    # The websocket checks the Origin against this list: never "*", because the
    # session cookie would otherwise ride cross-site websocket requests.
    cors_allowed_origins=sorted(_origins),
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="teal", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
