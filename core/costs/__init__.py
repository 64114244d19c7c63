"""Project costs: the real cloud bill of what deployments created, imported from a billing source and debited."""
