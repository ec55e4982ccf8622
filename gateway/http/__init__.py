"""The public JSON API (``/api/v1``), served by aiohttp."""
