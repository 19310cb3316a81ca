"""The pure core: frozen models in, decisions out. No I/O, no clock, no aiohttp or gidgethub."""
