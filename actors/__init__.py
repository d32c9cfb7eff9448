"""The chat service: monitors -> router -> VTuber session, as supervised actors.

Run it with ``python -m actors config.toml``. `app.build_tree` wires the
actors; everything generic about supervision lives in the `supervision`
package, which knows nothing about chat.
"""
