"""A collection agency, simulated: a real HTTP server on the agency's side of the gateway."""
