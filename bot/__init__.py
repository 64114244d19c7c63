"""The front doors (Slack, Discord, console, web), the workers, the scheduler and the ``rad`` entry point."""
