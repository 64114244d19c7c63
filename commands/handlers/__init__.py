"""The commands, actions and forms; every module here is registered by ``commands.load_registry``."""
