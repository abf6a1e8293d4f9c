"""Channel adapters: each sends one rendered communication or raises a SendError that
says whether trying again can help."""
