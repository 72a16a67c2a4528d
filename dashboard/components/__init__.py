"""Layout per panel: functions that build components; they never import callbacks."""
