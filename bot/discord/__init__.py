"""The Discord front door (discord.py 2.7): slash commands, persistent components, modals and threads.

``client`` builds and runs the client (``build_client``, ``run_discord``, ``DiscordRunner``); ``tree``
builds ``/rad`` from the registry; ``front`` turns interactions into dispatcher calls and ``answer``
answers them (defer, send, edit, follow up); ``items`` are the persistent buttons, selects and search
buttons; ``render``, ``controls``, ``forms`` and ``search`` map the neutral UI model to messages and
modals within Discord's limits; ``drafts`` keeps forms between modal steps; ``ids`` is the custom-id
format; ``messenger`` posts for background work.
"""
