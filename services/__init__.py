"""Services with outside I/O that handlers use through the AppContext (mail, ...)."""
