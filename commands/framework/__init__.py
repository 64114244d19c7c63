"""The command framework: registry, context, dispatcher, parsing, the Messenger port, metrics."""
