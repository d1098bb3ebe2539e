"""The ground floor: settings, tables, the database session, migrations, the mention store and corrections.

Everything else in Earshot stands on this package and it stands on nothing of Earshot's own: it imports no
``alerts``, ``spiders``, ``sentiment`` or top-floor ``monitor`` module (an import-linter contract in
``make check`` keeps it so), which is what lets the spiders and the alert pipeline be tested without the CLI.
"""
