"""``/api/*``: One API's management contract."""

from . import audit, auth, channel, group, misc, openapi, redemption, token, user

routes = (user.routes + token.routes + channel.routes + misc.routes + redemption.routes + group.routes + auth.routes + audit.routes
          + openapi.routes)
