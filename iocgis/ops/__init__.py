"""Operations: backups proven by restores, scratch clusters, metrics."""
