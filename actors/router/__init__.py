"""The router: drops what the AI should not answer, holds the rest for the session."""
