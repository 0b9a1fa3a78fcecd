"""The ``vdpm`` command line; each subcommand lives in its own module and imports heavy code lazily."""
