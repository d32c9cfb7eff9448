"""The VTuber session: one message per turn, pulled from the router when idle."""
