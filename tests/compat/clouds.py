#!/usr/bin/python3
"""Writes a clouds.yaml for hvcentral's OpenStack-compatible API: one cloud per user
(name, user, password, project), all on the same auth_url; setup() also creates the users
through hv. Used by the compat suite and reusable by the demo: python3 clouds.py FILE URL
NAME:USER:PASSWORD:PROJECT..."""
import os
import sys


def write(path, url, clouds):
    """clouds: [(cloud name, user, password, project)]; the file is created mode 0600 (it
    holds passwords)."""
    lines = ["clouds:"]
    for name, user, password, project in clouds:
        lines += ["  %s:" % name,
                  "    auth:",
                  "      auth_url: %s/identity" % url.rstrip("/"),
                  "      username: %s" % user,
                  "      password: \"%s\"" % password.replace("\\", "\\\\").replace('"', '\\"'),
                  "      project_name: %s" % project,
                  "      user_domain_name: Default",
                  "      project_domain_name: Default",
                  "    region_name: RegionOne",
                  "    identity_api_version: 3",
                  "    interface: public"]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")


def setup(c, url, users):
    """users: [(cloud name, user, project, role, password)], each created through hv on
    cluster c, and a clouds.yaml with one cloud per user; returns the file's path."""
    path = c.path("clouds.yaml")
    for _, user, project, role, password in users:
        c.user(user, project, role, password)
    write(path, url, [(name, user, password, project)
                      for name, user, project, _, password in users])
    return path


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: clouds.py FILE URL NAME:USER:PASSWORD:PROJECT...")
    write(sys.argv[1], sys.argv[2], [tuple(c.split(":", 3)) for c in sys.argv[3:]])
