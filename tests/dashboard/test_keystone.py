#!/usr/bin/python3
"""What Horizon asks of Keystone, through Debian's keystoneauth1 and keystoneclient (the
libraries Horizon's login uses) against hvcentral: an unscoped password token that lists the
user's projects but opens no service, re-scoping it to a project with the token method (no
password, same expiry), a domain scope refused as keystone refuses a user without a domain
role, and the identity reads of the admin pages (projects, the domain, users, roles, role
assignments) with a member refused what keystone's default policy keeps for admins."""
import time

import dash
import harness
from harness import check


def main():
    harness.need_module("keystoneauth1", "python3-keystoneauth1")
    harness.need_module("keystoneclient", "python3-keystoneclient")
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3
    from keystoneclient.v3 import client as ks_client

    s = dash.Stack(hosts=("node-1",))
    auth_url = s.url + "/identity/v3"
    sess = ks_session.Session()
    users = {}
    for name in ("alice", "demo"):
        pw = v3.Password(auth_url=auth_url, username=name, password=dash.USERS[name][2],
                         user_domain_name="Default", unscoped=True)
        ref = pw.get_access(sess)
        check(ref.project_id is None and not ref.has_service_catalog(),
              "%s: an unscoped token has no project and no catalog" % name)
        users[name] = (pw, ref)

    # the unscoped token: the user's projects, nothing else
    demo_pw, demo_ref = users["demo"]
    ks = ks_client.Client(session=sess, auth=demo_pw, interface="public",
                          endpoint_override=auth_url)
    projects = ks.projects.list(user=demo_ref.user_id)
    check([(p.name, p.enabled, p.domain_id) for p in projects] == [("demo", True, "default")],
          "users/{id}/projects with the unscoped token: demo, enabled (%s)" % projects)
    status, _, _ = s.api.http("GET", "/compute/v2.1/servers", demo_ref.auth_token)
    check(status == 401, "Compute refuses the unscoped token (%d)" % status)
    status, _, _ = s.api.http("GET", "/network/v2.0/networks", demo_ref.auth_token)
    check(status == 401, "Networking refuses the unscoped token (%d)" % status)

    # re-scoping with the token method, as Horizon does on every client it builds
    t0 = time.monotonic()
    for _ in range(20):
        scoped = v3.Token(auth_url=auth_url, token=demo_ref.auth_token,
                          project_id=projects[0].id).get_access(sess)
    per = (time.monotonic() - t0) / 20
    check(scoped.project_name == "demo" and scoped.role_names == ["member", "reader"] and
          scoped.has_service_catalog() and scoped.expires == demo_ref.expires,
          "the token method scopes to demo with roles and catalog, expiring with the first "
          "token (%s, %s)" % (scoped.role_names, scoped.expires))
    print("re-scoping takes %.1f ms a token (keystoneauth round trip)" % (per * 1000))
    status, _, body = s.api.http("GET", "/compute/v2.1/servers", scoped.auth_token)
    check(status == 200 and body["servers"] == [], "the re-scoped token opens Compute")
    try:
        v3.Token(auth_url=auth_url, token=demo_ref.auth_token,
                 project_name="other", project_domain_name="Default").get_access(sess)
        check(False, "a project without a role on it cannot be scoped to")
    except ks_exc.Unauthorized:
        pass
    try:
        v3.Token(auth_url=auth_url, token=demo_ref.auth_token,
                 domain_name="Default").get_access(sess)
        check(False, "a domain scope is refused")
    except ks_exc.Unauthorized:
        pass
    try:
        v3.Token(auth_url=auth_url, token="not-a-token",
                 project_id=projects[0].id).get_access(sess)
        check(False, "an unknown token cannot be re-scoped")
    except ks_exc.Unauthorized:
        pass

    # the admin pages' reads
    alice_pw, alice_ref = users["alice"]
    admin_tok = v3.Token(auth_url=auth_url, token=alice_ref.auth_token,
                         project_name="admin", project_domain_name="Default")
    ks = ks_client.Client(session=sess, auth=admin_tok, interface="public")
    names = sorted(p.name for p in ks.projects.list())
    check(names == ["admin", "demo", "other"], "projects list (%s)" % names)
    check([p.name for p in ks.projects.list(name="demo")] == ["demo"],
          "projects list ?name=demo")
    dom = ks.domains.get("default")
    check(dom.name == "Default" and dom.enabled, "domains/default (%s)" % dom)
    unames = sorted(u.name for u in ks.users.list())
    check(unames == sorted(dash.USERS), "users list (%s)" % unames)
    check(sorted(r.name for r in ks.roles.list()) == ["admin", "member", "reader"],
          "roles list")
    demo_id = demo_ref.user_id
    direct = ks.role_assignments.list(user=demo_id)
    check([(a.role["id"], a.scope["project"]["id"]) for a in direct] ==
          [("member", projects[0].id)], "role_assignments ?user.id: demo's member role")
    eff = ks.role_assignments.list(user=demo_id, effective=True, include_names=True)
    check(sorted(a.role["name"] for a in eff) == ["member", "reader"] and
          eff[0].user["name"] == "demo" and eff[0].scope["project"]["name"] == "demo",
          "role_assignments ?effective&include_names: member implies reader, with names")
    by_project = ks.role_assignments.list(project=projects[0].id)
    check(sorted(a.user["id"] for a in by_project) == [demo_id],
          "role_assignments ?scope.project.id: demo's project has demo only")

    # a member: its own things only
    member_tok = v3.Token(auth_url=auth_url, token=demo_ref.auth_token,
                          project_id=projects[0].id)
    ks = ks_client.Client(session=sess, auth=member_tok, interface="public")
    for what, call in (("projects list", lambda: ks.projects.list()),
                       ("users list", lambda: ks.users.list()),
                       ("roles list", lambda: ks.roles.list()),
                       ("role_assignments of everyone", lambda: ks.role_assignments.list()),
                       ("another user's projects",
                        lambda: ks.projects.list(user=alice_ref.user_id))):
        try:
            call()
            check(False, "a member is refused the %s" % what)
        except ks_exc.Forbidden:
            pass
    check(ks.users.get(demo_id).name == "demo", "a member reads its own user")
    mine = ks.role_assignments.list(user=demo_id)
    check(len(mine) == 1, "a member lists its own role assignments")


if __name__ == "__main__":
    harness.run(main)
