"""Monitoring: drift (PSI), realised performance once outcomes arrive, thresholds and named breaches."""
