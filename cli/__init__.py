"""The ``cmfr`` command line: click commands only, one module per sub-command."""
