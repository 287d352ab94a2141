"""Where the parties are: the embedded stack of local processes and the URLs of a stack elsewhere."""
