"""CLI subcommands, one module per audit folder; each is a thin layer over that folder's public entry."""
