"""``python -m cmfr_codec`` runs the ``cmfr`` command."""

from cmfr_codec.cli.main import main

if __name__ == "__main__":
    main()
