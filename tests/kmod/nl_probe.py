#!/usr/bin/env python3
"""Malformed and valid generic netlink requests against svxlat.ko.

Run inside the test VM with the module loaded (tests/kmod/t-netlink.sh).
Every refused request must come back with an error and, when it reached
the module's own parser, bump the nl_rejected counter; the module must keep
answering afterwards. Exit status 0 = all checks passed.
"""
import errno
import os
import random
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLA_F_NESTED = 0x8000

# include/svxlat/nl.h (kept in step by the header's append-only rule)
MAGIC, VERSION = 0x53564C4B, 1
(CMD_GET_INFO, CMD_SET_CONFIG, CMD_CLEAR_CONFIG, CMD_GET_STATS, CMD_GET_FLOWS,
 CMD_SET_ROUTES, CMD_GET_ROUTES) = range(1, 8)
(A_VERSION, A_FLOW_SIZE, A_CONFIGURED, A_FLOW_COUNT, A_SAL_MTU, A_TCP_MTU, A_TTL,
 A_MAX_RETRANS, A_RTO_INITIAL_MS, A_RTO_MAX_MS, A_TIMEOUTS_MS, A_MAX_FLOWS,
 A_MAX_EMBRYONIC, A_XLT_ADDR, A_XLT_ROUTER, A_XLT_ROWS, A_HOST_ADDR, A_HOST_PORT_LOW,
 A_HOST_PORT_HIGH, A_HOST_SERVICES, A_STATS, A_DROPS, A_FLOW, A_ROW, A_ROW_ADDR,
 A_ROW_PORT, A_ROW_SERVICE, A_ROW_STRIP, A_SERVICE, A_SVC_PREFIX, A_SVC_BITS,
 A_SVC_PORT, A_CONFIG_GEN, A_ROW_LOCAL_ONLY, A_ROUTER_ADDR, A_ROUTER_ID, A_ROUTES_GEN,
 A_ROUTE_COUNT, A_ROUTE, A_ROUTE_PREFIX, A_ROUTE_BITS, A_ROUTE_TARGET, A_TGT_ADDR,
 A_TGT_PRIORITY, A_TGT_WEIGHT, A_TGT_CHOSEN, A_XLT_ROUTE, A_XLT_ROUTE_COUNT,
 A_ROUTES_TABLE, A_FIN_ACK_DELAY_MS) = range(1, 51)
ROUTES_ROUTER, ROUTES_XLT_STATIC = 0, 1
ST_NL_REJECTED = 18  # enum svx_stat


def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, t) + payload + b"\0" * ((4 - n % 4) % 4)


def nest(t, *attrs):
    return attr(t | NLA_F_NESTED, b"".join(attrs))


def u8(t, v): return attr(t, struct.pack("=B", v))
def u16(t, v): return attr(t, struct.pack("=H", v))
def u32(t, v): return attr(t, struct.pack("=I", v))


class Genl:
    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        try:  # SO_SNDBUFFORCE: big configs (root only)
            self.sock.setsockopt(socket.SOL_SOCKET, 32, 16 << 20)
        except PermissionError:
            pass
        self.sock.bind((0, 0))
        self.sock.settimeout(5)
        self.seq = 1
        self.family = self.resolve("svxlat")

    def send(self, mtype, flags, body):
        self.seq += 1
        hdr = struct.pack("=IHHII", 16 + len(body), mtype, flags, self.seq, 0)
        self.sock.send(hdr + body)
        return self.seq

    def recv_all(self, seq):
        """Messages answering seq until an ACK/error or DONE: (errno, [payloads])."""
        msgs = []
        while True:
            data = self.sock.recv(1 << 20)
            off = 0
            while off + 16 <= len(data):
                ln, mtype, flags, mseq, _ = struct.unpack_from("=IHHII", data, off)
                body = data[off + 16:off + ln]
                off += (ln + 3) & ~3
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    return -struct.unpack_from("=i", body)[0], msgs
                if mtype == NLMSG_DONE:  # a failed dump says why in its DONE
                    return (-struct.unpack_from("=i", body)[0] if len(body) >= 4 else 0), msgs
                msgs.append(body)
                if not flags & 2:  # not NLM_F_MULTI: a doit reply, the ACK follows
                    pass

    def resolve(self, name):
        body = struct.pack("=BBH", CTRL_CMD_GETFAMILY, 1, 0) + attr(CTRL_ATTR_FAMILY_NAME,
                                                                     name.encode() + b"\0")
        err, msgs = self.recv_all(self.send(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, body))
        if err or not msgs:
            raise SystemExit(f"nl_probe: family {name} not found (errno {err})")
        return parse_attrs(msgs[0][4:])[CTRL_ATTR_FAMILY_ID][0] | \
            parse_attrs(msgs[0][4:])[CTRL_ATTR_FAMILY_ID][1] << 8

    def request(self, cmd=0, attrs=b"", magic=MAGIC, version=VERSION, reserved=0, raw=None,
                dump=False):
        body = raw if raw is not None else (
            struct.pack("=BBH", cmd, VERSION, 0) + struct.pack("=IHH", magic, version, reserved)
            + attrs)
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
        return self.recv_all(self.send(self.family, flags, body))


def parse_attrs(buf):
    out, off = {}, 0
    while off + 4 <= len(buf):
        ln, t = struct.unpack_from("=HH", buf, off)
        if ln < 4:
            break
        out[t & 0x3FFF] = buf[off + 4:off + ln]
        off += (ln + 3) & ~3
    return out


def parse_nested_all(buf):
    """Like parse_attrs, but every occurrence: {type: [payload, ...]}."""
    out, off = {}, 0
    while off + 4 <= len(buf):
        ln, t = struct.unpack_from("=HH", buf, off)
        if ln < 4:
            break
        out.setdefault(t & 0x3FFF, []).append(buf[off + 4:off + ln])
        off += (ln + 3) & ~3
    return out


def reply_attrs(body):
    return parse_attrs(body[4 + 8:])  # genlmsghdr + svx_nl_hdr


def flow_settings(max_flows=1024):
    return (u16(A_SAL_MTU, 1500) + u16(A_TCP_MTU, 1500) + u8(A_TTL, 64) +
            u8(A_MAX_RETRANS, 8) + u32(A_RTO_INITIAL_MS, 1000) + u32(A_RTO_MAX_MS, 60000) +
            attr(A_TIMEOUTS_MS, struct.pack("=4I", 30000, 7440000, 120000, 60000)) +
            u32(A_MAX_FLOWS, max_flows) + u32(A_MAX_EMBRYONIC, 512))


def row(addr, port, sid=b"\x11" * 32, strip=1):
    return nest(A_ROW, attr(A_ROW_ADDR, addr), u16(A_ROW_PORT, port),
                attr(A_ROW_SERVICE, sid), u8(A_ROW_STRIP, strip))


def target(addr, priority=1, weight=1):
    return nest(A_ROUTE_TARGET, attr(A_TGT_ADDR, addr), u32(A_TGT_PRIORITY, priority),
                u32(A_TGT_WEIGHT, weight))


def route(prefix, bits, *targets, kind=A_ROUTE):
    return nest(kind, attr(A_ROUTE_PREFIX, prefix), u16(A_ROUTE_BITS, bits), *targets)


def sid(n):
    """A full service ID from a number (last 4 bytes), never all zero."""
    return b"\x5a" + b"\0" * 27 + struct.pack(">I", n)


def ip(n):
    return bytes([10, 20 + (n >> 16 & 0x3F), n >> 8 & 255, n & 255])


def dump_routes(nl, table=None):
    """GET_ROUTES, the chunks of each route joined: {(prefix, bits): {addr: (prio, w, chosen)}}."""
    err, msgs = nl.request(CMD_GET_ROUTES, b"" if table is None else u8(A_ROUTES_TABLE, table),
                           dump=True)
    out = {}
    for m in msgs:
        r = parse_nested_all(reply_attrs(m)[A_ROUTE])
        key = (r[A_ROUTE_PREFIX][0], struct.unpack("=H", r[A_ROUTE_BITS][0])[0])
        for t in r.get(A_ROUTE_TARGET, []):
            ta = parse_attrs(t)
            out.setdefault(key, {})[ta[A_TGT_ADDR]] = (
                struct.unpack("=I", ta[A_TGT_PRIORITY])[0], struct.unpack("=I", ta[A_TGT_WEIGHT])[0],
                struct.unpack("=Q", ta[A_TGT_CHOSEN])[0])
    return err, len(msgs), out


XLT = attr(A_XLT_ADDR, bytes([10, 0, 1, 1])) + attr(A_XLT_ROUTER, bytes([10, 0, 2, 1]))
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def rejected(nl):
    err, msgs = nl.request(CMD_GET_STATS)
    assert err == 0 and msgs, f"GET_STATS failed: {err}"
    stats = reply_attrs(msgs[0])[A_STATS]
    return struct.unpack_from("=Q", stats, ST_NL_REJECTED * 8)[0]


def expect_refused(nl, what, counted=True, **kw):
    before = rejected(nl)
    err, _ = nl.request(**kw)
    after = rejected(nl)
    check(err != 0, f"{what}: refused ({errno.errorcode.get(err, err)})")
    if counted:
        check(after == before + 1, f"{what}: nl_rejected {before} -> {after}")


def probe_routes(nl):
    """SET_ROUTES refusals, then a big table set, dumped and replaced."""
    a, b = bytes([10, 0, 4, 1]), bytes([10, 0, 4, 2])
    bad = {
        "route without targets": route(sid(1), 256),
        "route without bits": nest(A_ROUTE, attr(A_ROUTE_PREFIX, sid(1)), target(a)),
        "route bits above 256": route(sid(1), 257, target(a)),
        "prefix with bits past its length": route(b"\xff" * 32, 8, target(a)),
        "target without weight": route(sid(1), 256, nest(A_ROUTE_TARGET, attr(A_TGT_ADDR, a),
                                                         u32(A_TGT_PRIORITY, 1))),
        "target weight 0": route(sid(1), 256, target(a, weight=0)),
        "target address of 5 bytes": route(sid(1), 256, nest(
            A_ROUTE_TARGET, attr(A_TGT_ADDR, a + b"\0"), u32(A_TGT_PRIORITY, 1),
            u32(A_TGT_WEIGHT, 1))),
        "one address twice in a route": route(sid(1), 256, target(a), target(b), target(a)),
        "two routes for one prefix": route(sid(1), 256, target(a)) + route(sid(1), 256, target(b)),
        "a count in a request": route(sid(1), 256, nest(
            A_ROUTE_TARGET, attr(A_TGT_ADDR, a), u32(A_TGT_PRIORITY, 1), u32(A_TGT_WEIGHT, 1),
            attr(A_TGT_CHOSEN, struct.pack("=Q", 5)))),
        "route count attribute in a request": u32(A_ROUTE_COUNT, 1) + route(sid(1), 256, target(a)),
        "1025 targets in a route": route(sid(1), 256, *(target(ip(i)) for i in range(1025))),
    }
    for what, attrs in bad.items():
        expect_refused(nl, "SET_ROUTES " + what, cmd=CMD_SET_ROUTES, attrs=attrs)
    err, msgs = nl.request(CMD_GET_INFO)
    info = reply_attrs(msgs[0])
    check(struct.unpack("=I", info[A_ROUTE_COUNT])[0] == 0 and A_ROUTES_GEN not in info,
          "refused route tables left nothing behind")

    # 3000 full IDs with 1..3 targets, 100 /16 prefixes, a default route and
    # one route of 1024 targets (dumped in several messages).
    routes, want = [], {}
    for i in range(3000):
        ts = [(ip(i * 3 + k), k % 2, k + 1) for k in range(1 + i % 3)]
        routes.append(route(sid(i), 256, *(target(*t) for t in ts)))
        want[(sid(i), 256)] = {t[0]: (t[1], t[2], 0) for t in ts}
    for i in range(100):
        p = bytes([0x5a, i]) + b"\0" * 30
        routes.append(route(p, 16, target(ip(20000 + i))))
        want[(p, 16)] = {ip(20000 + i): (1, 1, 0)}
    routes.append(route(b"\0" * 32, 0, *(target(ip(30000 + i)) for i in range(1024))))
    want[(b"\0" * 32, 0)] = {ip(30000 + i): (1, 1, 0) for i in range(1024)}
    random.Random(3).shuffle(routes)  # any order: the module sorts
    err, _ = nl.request(CMD_SET_ROUTES, b"".join(routes) + attr(A_ROUTES_GEN, struct.pack("=Q", 41)))
    check(err == 0, f"SET_ROUTES with {len(routes)} routes accepted ({err})")
    err, msgs = nl.request(CMD_GET_INFO)
    info = reply_attrs(msgs[0])
    check(struct.unpack("=I", info[A_ROUTE_COUNT])[0] == len(routes), "GET_INFO counts the routes")
    check(struct.unpack("=Q", info[A_ROUTES_GEN])[0] == 41, "GET_INFO echoes the routes generation")
    err, n_msgs, got = dump_routes(nl)
    check(err == 0 and got == want,
          f"GET_ROUTES gives back every route and target ({len(got)} of {len(want)} routes)")
    check(n_msgs >= len(routes) + 15, f"the 1024-target route came in pieces ({n_msgs} messages)")
    # Replaced whole: a smaller table leaves nothing of the big one.
    err, _ = nl.request(CMD_SET_ROUTES, route(sid(7), 256, target(a)) +
                        attr(A_ROUTES_GEN, struct.pack("=Q", 42)))
    err, _, got = dump_routes(nl)
    check(err == 0 and got == {(sid(7), 256): {a: (1, 1, 0)}}, "SET_ROUTES replaces the whole table")
    # Random bytes in SET_ROUTES: refused or accepted, never a crash.
    rng = random.Random(5)
    for _ in range(500):
        junk = route(bytes(rng.getrandbits(8) for _ in range(32)), rng.randrange(0, 300),
                     bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 64))))
        nl.request(CMD_SET_ROUTES, junk)
    err, msgs = nl.request(CMD_GET_INFO)
    check(err == 0, "module still answers after 500 random SET_ROUTES")
    nl.request(CMD_CLEAR_CONFIG)
    err, msgs = nl.request(CMD_GET_INFO)
    info = reply_attrs(msgs[0])
    check(struct.unpack("=I", info[A_ROUTE_COUNT])[0] == 0, "CLEAR_CONFIG drops the routes")


def probe_static_services(nl):
    """The translator's static services: a route table inside SET_CONFIG."""
    a, b = bytes([10, 0, 4, 1]), bytes([10, 0, 4, 2])
    xr = lambda *args: route(*args, kind=A_XLT_ROUTE)
    expect_refused(nl, "static services without a translator", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + attr(A_HOST_ADDR, bytes([10, 0, 3, 1])) +
                   u16(A_HOST_PORT_LOW, 4000) + u16(A_HOST_PORT_HIGH, 5000) +
                   nest(A_SERVICE, attr(A_SVC_PREFIX, b"\x22" * 32), u16(A_SVC_BITS, 8),
                        u16(A_SVC_PORT, 8080)) + xr(sid(1), 256, target(a)))
    expect_refused(nl, "static service with weight 0", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + XLT + xr(sid(1), 256, target(a, weight=0)))
    expect_refused(nl, "static service listed twice", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + XLT + xr(sid(1), 256, target(a)) +
                   xr(sid(1), 256, target(b)))
    expect_refused(nl, "GET_ROUTES of table 2", cmd=CMD_GET_ROUTES, attrs=u8(A_ROUTES_TABLE, 2),
                   dump=True)
    err, msgs = nl.request(CMD_GET_INFO)
    check(reply_attrs(msgs[0]).get(A_CONFIGURED) == b"\0", "refused static services left nothing")
    # Without a router too: static services are then the only way out.
    config = flow_settings() + attr(A_XLT_ADDR, bytes([10, 0, 1, 1])) + row(bytes([10, 9, 9, 9]), 80)
    err, _ = nl.request(CMD_SET_CONFIG, config + xr(sid(1), 256, target(a), target(b, 2, 3)) +
                        xr(b"\x5a" + b"\0" * 31, 8, target(b)))
    check(err == 0, f"translator with static services and no router accepted ({err})")
    err, msgs = nl.request(CMD_GET_INFO)
    info = reply_attrs(msgs[0])
    check(struct.unpack("=I", info[A_XLT_ROUTE_COUNT])[0] == 2 and
          struct.unpack("=I", info[A_ROUTE_COUNT])[0] == 0,
          "GET_INFO counts the static services apart from the router's table")
    err, _, got = dump_routes(nl, ROUTES_XLT_STATIC)
    check(err == 0 and got == {(sid(1), 256): {a: (1, 1, 0), b: (2, 3, 0)},
                               (b"\x5a" + b"\0" * 31, 8): {b: (1, 1, 0)}},
          "GET_ROUTES dumps the static services")
    err, _, got = dump_routes(nl, ROUTES_ROUTER)
    check(err == 0 and got == {}, "the router's table is a separate one")
    err, _ = nl.request(CMD_SET_CONFIG, config)
    err, _, got = dump_routes(nl, ROUTES_XLT_STATIC)
    check(err == 0 and got == {}, "a reload without static services drops them")
    nl.request(CMD_CLEAR_CONFIG)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--expect-eperm":
        nl = Genl()
        err, _ = nl.request(CMD_GET_INFO)
        check(err == errno.EPERM, f"GET_INFO without CAP_NET_ADMIN: EPERM (got {err})")
        err, _ = nl.request(CMD_SET_CONFIG, flow_settings() + XLT)
        check(err == errno.EPERM, f"SET_CONFIG without CAP_NET_ADMIN: EPERM (got {err})")
        return 1 if FAILURES else 0

    nl = Genl()
    err, msgs = nl.request(CMD_GET_INFO)
    info = reply_attrs(msgs[0]) if msgs else {}
    check(err == 0 and struct.unpack("=I", info[A_VERSION])[0] == VERSION, "GET_INFO answers v1")
    check(info.get(A_CONFIGURED) == b"\0", "fresh namespace is unconfigured")

    expect_refused(nl, "wrong magic", cmd=CMD_GET_INFO, magic=0x12345678)
    expect_refused(nl, "wrong version", cmd=CMD_GET_INFO, version=VERSION + 1)
    expect_refused(nl, "nonzero reserved", cmd=CMD_GET_INFO, reserved=1)
    expect_refused(nl, "no svxlat header", counted=False,
                   raw=struct.pack("=BBH", CMD_GET_INFO, VERSION, 0))
    expect_refused(nl, "unknown command", counted=False, cmd=99)
    expect_refused(nl, "SET_CONFIG without settings", cmd=CMD_SET_CONFIG, attrs=XLT)
    expect_refused(nl, "SET_CONFIG without any role", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings())
    expect_refused(nl, "attribute type beyond the maximum", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + XLT + u32(200, 1))
    expect_refused(nl, "address of 3 bytes", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + attr(A_XLT_ADDR, b"\x0a\0\x01"))
    expect_refused(nl, "MTU below 576", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings().replace(u16(A_SAL_MTU, 1500), u16(A_SAL_MTU, 100)) + XLT)
    expect_refused(nl, "fin-ack delay above 100 ms", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + u32(A_FIN_ACK_DELAY_MS, 101) + XLT)
    expect_refused(nl, "max flows above flow_cap", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings(max_flows=1 << 22) + XLT)
    expect_refused(nl, "row without service", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + XLT + nest(A_ROW, u16(A_ROW_PORT, 80)))
    expect_refused(nl, "port 0 row", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + XLT + row(bytes([10, 9, 9, 9]), 0))
    expect_refused(nl, "duplicate rows", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + XLT + row(bytes([10, 9, 9, 9]), 80) +
                   row(bytes([10, 9, 9, 9]), 80))
    expect_refused(nl, "reserved list attribute", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + XLT + nest(A_XLT_ROWS, row(bytes([10, 9, 9, 9]), 80)))
    expect_refused(nl, "row attribute outside a row", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + XLT + nest(A_ROW, nest(A_ROW, u16(A_ROW_PORT, 80))))
    expect_refused(nl, "host agent with empty port range", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + attr(A_HOST_ADDR, bytes([10, 0, 3, 1])) +
                   u16(A_HOST_PORT_LOW, 5000) + u16(A_HOST_PORT_HIGH, 4000) +
                   nest(A_SERVICE, attr(A_SVC_PREFIX, b"\x22" * 32),
                        u16(A_SVC_BITS, 8), u16(A_SVC_PORT, 8080)))
    expect_refused(nl, "prefix bits above 256", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + attr(A_HOST_ADDR, bytes([10, 0, 3, 1])) +
                   u16(A_HOST_PORT_LOW, 4000) + u16(A_HOST_PORT_HIGH, 5000) +
                   nest(A_SERVICE, attr(A_SVC_PREFIX, b"\x22" * 32),
                        u16(A_SVC_BITS, 300), u16(A_SVC_PORT, 8080)))
    expect_refused(nl, "router address without its service ID", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + attr(A_ROUTER_ADDR, bytes([10, 0, 2, 1])))
    expect_refused(nl, "router ID of 31 bytes", cmd=CMD_SET_CONFIG,
                   attrs=flow_settings() + attr(A_ROUTER_ADDR, bytes([10, 0, 2, 1])) +
                   attr(A_ROUTER_ID, b"\x01" * 31))
    err, msgs = nl.request(CMD_GET_INFO)
    check(reply_attrs(msgs[0]).get(A_CONFIGURED) == b"\0", "refused configs left nothing behind")
    probe_routes(nl)

    # Random bytes after a valid header: refused or accepted, never a crash.
    rng = random.Random(int(os.environ.get("NL_PROBE_SEED", "1")))
    for _ in range(int(os.environ.get("NL_PROBE_RANDOM", "3000"))):
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200)))
        nl.request(rng.choice([CMD_SET_CONFIG, CMD_GET_INFO, CMD_GET_STATS]), attrs=junk)
    err, msgs = nl.request(CMD_GET_INFO)
    check(err == 0, "module still answers after 3000 random requests")
    nl.request(CMD_CLEAR_CONFIG)

    rows = b"".join(row(bytes([10, 9, i >> 8, i & 255]), 80) for i in range(20000))
    err, _ = nl.request(CMD_SET_CONFIG, flow_settings() + XLT + rows +
                        attr(A_CONFIG_GEN, struct.pack("=Q", 7)))
    check(err == 0, f"valid translator config with 20000 rows accepted ({err})")
    err, msgs = nl.request(CMD_GET_INFO)
    info = reply_attrs(msgs[0])
    check(info.get(A_CONFIGURED) == b"\x01", "configured after SET_CONFIG")
    check(struct.unpack("=Q", info[A_CONFIG_GEN])[0] == 7, "generation echoed")
    err, msgs = nl.request(CMD_GET_FLOWS, dump=True)
    check(err == 0 and not msgs, "no flows dumped in an idle namespace")
    err, _ = nl.request(CMD_CLEAR_CONFIG)
    err, msgs = nl.request(CMD_GET_INFO)
    check(reply_attrs(msgs[0]).get(A_CONFIGURED) == b"\0", "unconfigured after CLEAR_CONFIG")
    err, _ = nl.request(CMD_SET_CONFIG, flow_settings() + attr(A_ROUTER_ADDR, bytes([10, 0, 2, 1])) +
                        attr(A_ROUTER_ID, b"\x01" * 32))
    check(err == 0, f"router-only config accepted ({err})")
    nl.request(CMD_CLEAR_CONFIG)
    err, _ = nl.request(CMD_SET_CONFIG, flow_settings() + u32(A_FIN_ACK_DELAY_MS, 100) + XLT)
    check(err == 0, f"config with the largest fin-ack delay accepted ({err})")
    nl.request(CMD_CLEAR_CONFIG)
    probe_static_services(nl)
    print(f"nl_probe: {len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
