"""The activities that change dossier data, run by this service's own Temporal worker on
its own task queue; the workflows schedule them by the names in `relance.contracts`."""
