"""The plugins shipped with mtpolicyd; one module per plugin."""
