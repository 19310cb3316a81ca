"""Feature handlers, one Router per feature, composed in `bot.handlers.routes`."""
