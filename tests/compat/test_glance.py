#!/usr/bin/python3
"""hvcentral's Image v2 (Glance) API driven by Debian's unmodified openstackclient against
hvcentral and a fake agent whose image store starts empty: an image uploaded with
`openstack image create --file` (several chunks, checksum computed by hvcentral), listed,
shown, renamed, given a property, saved back byte for byte, booted by name (the agent
fetches it from hvcentral), then deleted; and the refusals a client expects (a member
deleting the admin's image 403, a bad disk_format 400, an unknown image 404, data over
the configured image size 413), each changing nothing."""
import hashlib
import http.client
import json
import os
import socket
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

import clouds  # noqa: E402
from test_openstack import Cloud  # noqa: E402

MAX_IMAGE_MB = 2


def setup():
    c = harness.Cluster()
    c.own_images = True  # the agent has no image but what it fetches from hvcentral
    port = harness.free_port()
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\nmax_image_mb = %d\n"
                    % (port, MAX_IMAGE_MB))
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")
    rc, _, err = c.hv("project", "create", "demo")
    check(rc == 0, "project demo is created (%s)" % err.strip())
    url = "http://127.0.0.1:%d" % port
    config = clouds.setup(c, url, [("hv-admin", "alice", "admin", "admin", "alice-pass-1"),
                                   ("hv-demo", "bob", "demo", "member", "bob-pass-22")])
    return c, Cloud(c, url, config)


def upload(c, cl):
    data = os.urandom(1300 * 1024 + 17)  # two whole chunks and a part
    src = c.path("cirros.raw")
    with open(src, "wb") as f:
        f.write(data)
    img = cl.osc_json("hv-admin", "image", "create", "--file", src, "--disk-format", "raw",
                      "--container-format", "bare", "--public", "cirros")
    check(img["name"] == "cirros" and img["visibility"] == "public" and
          img["disk_format"] == "raw" and img["container_format"] == "bare",
          "image create --file prints the new public raw image (%s)" % img)
    # openstackclient prints the image as created, before its data; show reads it after
    shown = cl.osc_json("hv-admin", "image", "show", img["id"])
    check(shown["status"] == "active" and shown["size"] == len(data) and
          shown["checksum"] == hashlib.md5(data).hexdigest(),
          "the upload ends active with hvcentral's size and MD5 (%s %s %s)"
          % (shown["status"], shown["size"], shown["checksum"]))
    return img["id"], data


def read(cl, iid, data):
    listed = cl.osc_json("hv-demo", "image", "list")
    check([i["Name"] for i in listed] == ["cirros"] and listed[0]["ID"] == iid and
          listed[0]["Status"] == "active", "a member lists the public image (%s)" % listed)
    shown = cl.osc_json("hv-demo", "image", "show", "cirros")
    for k, v in [("id", iid), ("name", "cirros"), ("status", "active"),
                 ("size", len(data)), ("disk_format", "raw"),
                 ("checksum", hashlib.md5(data).hexdigest())]:
        check(shown[k] == v, "image show by name has %s %s (%s)" % (k, v, shown.get(k)))
    out = cl.c.path("saved.raw")
    rc, _, err = cl.osc("hv-demo", "image", "save", "--file", out, "cirros")
    check(rc == 0, "image save succeeds (%s)" % err.strip()[-300:])
    with open(out, "rb") as f:
        check(f.read() == data, "the saved bytes equal the uploaded ones")


def update(cl, iid):
    rc, _, err = cl.osc("hv-admin", "image", "set", "--property", "os_distro=cirros",
                        "--name", "cirros-0.6", "cirros")
    check(rc == 0, "image set --property --name succeeds (%s)" % err.strip()[-300:])
    shown = cl.osc_json("hv-admin", "image", "show", iid)
    check(shown["name"] == "cirros-0.6" and shown["properties"].get("os_distro") == "cirros",
          "image show has the new name and property (%s %s)"
          % (shown["name"], shown["properties"]))
    rc, _, err = cl.osc("hv-admin", "image", "set", "--name", "cirros", iid)
    check(rc == 0, "image set --name back succeeds (%s)" % err.strip()[-300:])
    rc, _, err = cl.osc("hv-admin", "image", "unset", "--property", "os_distro", iid)
    check(rc == 0, "image unset --property succeeds (%s)" % err.strip()[-300:])
    shown = cl.osc_json("hv-admin", "image", "show", iid)
    check("os_distro" not in shown["properties"], "the property is gone (%s)"
          % shown["properties"])


def boot(cl):
    srv = cl.osc_json("hv-demo", "server", "create", "--flavor", "m1.tiny", "--image",
                      "cirros", "--wait", "web-1")
    check(srv["status"] == "ACTIVE", "server create --image cirros --wait ends ACTIVE (%s)"
          % srv["status"])
    rc, _, err = cl.osc("hv-demo", "server", "delete", "--wait", "web-1")
    check(rc == 0, "server delete --wait succeeds (%s)" % err.strip()[-300:])


def refusals(cl, iid):
    rc, _, err = cl.osc("hv-demo", "image", "delete", iid)
    check(rc != 0 and "403" in err, "a member cannot delete the admin's image: 403 (%s)"
          % err.strip()[-300:])
    rc, _, err = cl.osc("hv-demo", "image", "set", "--name", "mine", iid)
    check(rc != 0 and "403" in err, "... nor rename it: 403 (%s)" % err.strip()[-300:])
    check(cl.osc_json("hv-admin", "image", "show", iid)["name"] == "cirros",
          "the refused requests changed nothing")
    rc, _, err = cl.osc("hv-demo", "image", "create", "--disk-format", "vhdx", "bad")
    check(rc != 0 and "400" in err, "a bad disk_format is refused: 400 (%s)"
          % err.strip()[-300:])
    rc, _, err = cl.osc("hv-demo", "image", "show", "no-such-image")
    check(rc != 0 and "no-such-image" in err,
          "an unknown image is not found (%s)" % err.strip()[-300:])
    bob = cl.token("bob", "bob-pass-22", "demo")
    status, _, body = cl.http("GET", "/image/v2/images/cirros", bob)
    check(status == 404, "a name where an id is expected answers 404 (%d)" % status)
    status, _, body = cl.http("GET", "/image/v2/images/" + iid + "x", bob)
    check(status == 404 and "error" in body, "an unknown id answers 404 (%d %s)"
          % (status, body))
    # data over [openstack] max_image_mb: 413, the image stays queued and empty
    status, _, big = cl.http("POST", "/image/v2/images", bob, body={
        "name": "big", "disk_format": "raw", "container_format": "bare"})
    check(status == 201 and big["status"] == "queued", "an image is created queued (%d)"
          % status)
    status, _, body = cl.http("PUT", "/image/v2/images/%s/file" % big["id"], bob,
                              raw=b"\0" * ((MAX_IMAGE_MB + 1) << 20),
                              headers={"Content-Type": "application/octet-stream"})
    check(status == 413, "data over the image size limit answers 413 (%d %s)"
          % (status, body))
    status, _, shown = cl.http("GET", "/image/v2/images/" + big["id"], bob)
    check(shown["status"] == "queued" and shown["size"] is None,
          "... and the image stays queued with no data (%s)" % shown["status"])
    # paging keeps the filters and the sort: one image a page, by name descending
    status, _, page = cl.http("GET", "/image/v2/images?limit=1&sort=name:desc", bob)
    check(status == 200 and [i["name"] for i in page["images"]] == ["cirros"] and
          "sort=name%3Adesc" in page["next"] and "limit=1" in page["next"],
          "the first page of one has a next link keeping sort and limit (%s)" % page)
    status, _, page = cl.http("GET", "/image" + page["next"], bob)
    check(status == 200 and [i["name"] for i in page["images"]] == ["big"] and
          "next" not in page, "the next page has the last image and no next (%s)" % page)
    status, _, body = cl.http("GET", "/image/v2/images?sort_key=nope", bob)
    check(status == 400 and "sort_key" in body["error"]["message"],
          "an unknown sort key is 400 naming it (%d %s)" % (status, body))
    names = sorted(i["Name"] for i in cl.osc_json("hv-demo", "image", "list"))
    check(names == ["big", "cirros"], "the member sees its own and the public image (%s)"
          % names)
    check([i["Name"] for i in cl.osc_json("hv-admin", "image", "list", "--private")] == [],
          "... the admin's project has no private image")
    status, _, _ = cl.http("DELETE", "/image/v2/images/" + big["id"], bob)
    check(status == 204, "the member deletes its own image (%d)" % status)


def put_chunked(cl, token, iid, parts):
    u = urllib.parse.urlsplit(cl.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("PUT", "/image/v2/images/%s/file" % iid, body=iter(parts),
                 headers={"X-Auth-Token": token, "Content-Type": "application/octet-stream"},
                 encode_chunked=True)
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status


def streams(cl):
    """Data sent chunked, data read back with its Content-MD5, an upload cut off by its
    client queued again, a protected image kept."""
    bob = cl.token("bob", "bob-pass-22", "demo")
    status, _, img = cl.http("POST", "/image/v2/images", bob, body={
        "name": "chunked", "disk_format": "qcow2", "container_format": "bare"})
    check(status == 201, "an image is created (%d)" % status)
    parts = [os.urandom(300 * 1024 + i) for i in range(4)]
    data = b"".join(parts)
    status = put_chunked(cl, bob, img["id"], parts)
    check(status == 204, "data sent with chunked transfer encoding is stored: 204 (%d)"
          % status)
    u = urllib.parse.urlsplit(cl.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("GET", "/image/v2/images/%s/file" % img["id"], headers={"X-Auth-Token": bob})
    r = conn.getresponse()
    got = r.read()
    conn.close()
    check(r.status == 200 and got == data and
          r.getheader("Content-MD5") == hashlib.md5(data).hexdigest() and
          r.getheader("Content-Type") == "application/octet-stream",
          "GET .../file streams the bytes back with their Content-MD5 (%d, %d bytes)"
          % (r.status, len(got)))
    # a client that leaves after the first chunk: the image is queued again
    status, _, cut = cl.http("POST", "/image/v2/images", bob, body={
        "name": "cut", "disk_format": "raw", "container_format": "bare"})
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(("PUT /image/v2/images/%s/file HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n"
               "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
               % (cut["id"], bob, 1 << 20)).encode() + b"\1" * (600 * 1024))

    def saving():
        return cl.http("GET", "/image/v2/images/" + cut["id"], bob)[2]["status"] == "saving"
    harness.wait_for("the cut upload's first chunk stored", saving, timeout=20, step=0.2)
    s.close()

    def queued():
        return cl.http("GET", "/image/v2/images/" + cut["id"], bob)[2]["status"] == "queued"
    harness.wait_for("the cut upload queued again", queued, timeout=20, step=0.2)
    status = put_chunked(cl, bob, cut["id"], [b"\2" * 1000])
    status2, _, shown = cl.http("GET", "/image/v2/images/" + cut["id"], bob)
    check(status == 204 and shown["status"] == "active" and shown["size"] == 1000,
          "... and a new upload of it succeeds (%d %s %s)"
          % (status, shown["status"], shown["size"]))
    # protected: not deleted, not changed
    patch = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
    status, _, _ = cl.http("PATCH", "/image/v2/images/" + cut["id"], bob, raw=json.dumps(
        [{"op": "replace", "path": "/protected", "value": True}]).encode(), headers=patch)
    check(status == 200, "a JSON patch protects the image (%d)" % status)
    status, _, body = cl.http("DELETE", "/image/v2/images/" + cut["id"], bob)
    check(status == 403, "a protected image's deletion is 403 (%d %s)" % (status, body))
    status, _, body = cl.http("PATCH", "/image/v2/images/" + cut["id"], bob, raw=json.dumps(
        [{"op": "replace", "path": "/protected", "value": False},
         {"op": "replace", "path": "/size", "value": 1}]).encode(), headers=patch)
    check(status == 403, "a patch of a read-only field is 403 (%d %s)" % (status, body))
    check(cl.http("GET", "/image/v2/images/" + cut["id"], bob)[2]["protected"] is True,
          "... and the refused patch changed nothing (still protected)")
    status, _, _ = cl.http("PATCH", "/image/v2/images/" + cut["id"], bob, raw=json.dumps(
        [{"op": "replace", "path": "/protected", "value": False}]).encode(), headers=patch)
    for i in (img["id"], cut["id"]):
        status, _, _ = cl.http("DELETE", "/image/v2/images/" + i, bob)
        check(status == 204, "the member deletes its image (%d)" % status)


def delete(cl, iid):
    rc, _, err = cl.osc("hv-admin", "image", "delete", iid)
    check(rc == 0, "the admin deletes the image (%s)" % err.strip()[-300:])
    check(cl.osc_json("hv-admin", "image", "list") == [], "image list is empty again")


def main():
    c, cl = setup()
    iid, data = upload(c, cl)
    read(cl, iid, data)
    update(cl, iid)
    boot(cl)
    refusals(cl, iid)
    streams(cl)
    delete(cl, iid)


if __name__ == "__main__":
    harness.run(main)
