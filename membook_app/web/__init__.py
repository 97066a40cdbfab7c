"""Plain HTTP routes beside the Reflex app: each module exposes `ROUTES`.

For what must not ride the websocket: file downloads, public invoice pages,
payment-provider callbacks, health checks.
"""
