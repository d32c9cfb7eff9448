"""The control surface: local HTTP + WebSocket API and the live dashboard."""
