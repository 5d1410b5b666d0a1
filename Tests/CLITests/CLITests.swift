// CLITests: end-to-end runs of the plexlab executable.
