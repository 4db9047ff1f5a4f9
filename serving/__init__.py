"""The BentoML service of crm-engine and what it needs: settings, typed schemas, the model bundle."""
