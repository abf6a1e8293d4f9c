"""Relance collectors' web console: a backend-for-frontend over the dossier API and the gateway admin API."""
