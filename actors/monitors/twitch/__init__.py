"""Twitch chat through the official EventSub WebSocket (reference: shared/reference/twitch.md)."""
