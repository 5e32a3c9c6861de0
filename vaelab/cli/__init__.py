"""Command-line interface (`vaelab ...`)."""
