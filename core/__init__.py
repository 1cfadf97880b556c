"""The bottom floor: what every domain app uses (today the outbox engine).

Nothing here imports a domain app (``incidents``, ``messaging``, ``refunds``, ``sla``);
they register what they need (their outbox adapters) from their ``AppConfig.ready``.
"""
