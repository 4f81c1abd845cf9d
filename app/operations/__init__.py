"""What an operator runs beside the service: health checks of a deployment, backups, retention."""
