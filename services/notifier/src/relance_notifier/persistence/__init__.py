"""asyncpg SQL of the notifier: reads clients, contact channels and templates (owned by
the dossier service's schema) and writes the communications trace."""
