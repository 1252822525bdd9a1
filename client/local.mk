# client/: libbrook and the brook CLI.
