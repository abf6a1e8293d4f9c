"""Pure notifier rules (no I/O): French formatting, template rendering, the choice of
the recipient among the client's contact channels, and the decision for a command."""
