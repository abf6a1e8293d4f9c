"""What every service's HTTP API shares: the error shape and its handlers, the
bearer-token principal and its role guards, and the guard of internal routes."""
