"""New Town Atlas dashboard (Dash app) and the `newtown` command."""
