"""Platform monitors: each turns one chat source into ChatEvents."""
