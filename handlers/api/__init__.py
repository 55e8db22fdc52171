"""``/api/*``: One API's management contract."""

from . import channel, misc, token, user

routes = user.routes + token.routes + channel.routes + misc.routes
