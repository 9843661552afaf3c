"""Community apps: robots, polls, group collections, theme activities, meetups and the warm-up robot, which an
owner switches on and off per community; the platform operator may price them (checkout purpose 'app').

Other domains guard their routes with `service.core.apps.require_app(conn, community_id, app)`.
"""
