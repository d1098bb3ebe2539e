"""Alembic's script folder for the Earshot schema: ``env.py`` and one file per revision in ``versions/``.

Shipped inside the package so an installed wheel can upgrade its database; :mod:`monitor.core.migrations`
points Alembic here (no ``alembic.ini`` anywhere).
"""
