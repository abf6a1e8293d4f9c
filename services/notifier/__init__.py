"""The notifier service: consumes `communication.commands`, renders templates and sends
communications through real channel adapters (SMTP for email), keeping a trace of every
communication on the client (F-23, F-32). Run it with `python -m relance_notifier`."""
