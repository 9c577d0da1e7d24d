"""Small utilities every part of hodor needs: registry, logging, seeding, distributed helpers."""
