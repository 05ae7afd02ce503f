#!/usr/bin/env python3
"""Inject a SAL (IP protocol 144) GSO super-packet and check what arrives.

Used by tests/vm/t-offload.sh inside the VM (it needs root and namespaces).

  send  --ifname DEV --dst-mac MAC [spec]
        Writes one frame IPv4/SAL/TCP/payload through an AF_PACKET socket
        with PACKET_VNET_HDR: a virtio_net_hdr asking for GSO (TCPV4,
        gso_size) and a partial checksum (NEEDS_CSUM at the TCP checksum).
        The kernel turns that into a CHECKSUM_PARTIAL GSO skb of protocol
        144, gso_type SKB_GSO_TCPV4 | SKB_GSO_DODGY.

  recv  (--ifname DEV | --tap DEV) --expect segments|super|none [spec]
        Captures frames of the flow (AF_PACKET with PACKET_VNET_HDR on DEV,
        or a tap device it creates with IFF_VNET_HDR and TSO offloads on)
        until the whole payload is seen or --timeout passes, then checks
        them against the spec and prints one summary line. Exit 0 when the
        expectation holds, 1 when it does not.

  nfq-sal --queue N [spec]
        An NFQUEUE client (raw netlink, NFQA_CFG_F_GSO on) standing in for
        the user-space engine: for each queued IPv4/TCP packet of the flow it
        reports the skb info (GSO, CSUMNOTREADY) and answers NF_ACCEPT with
        a payload rewritten to SAL (protocol 144, the SAL header inserted
        after IPv4, TCP header and payload untouched), i.e. a SAL
        super-packet handed back to the kernel in a verdict.

The spec (--src, --dst, --payload, --gso-size, --seq, --id) must be the same
on both sides: the receiver rebuilds the super-packet it expects.

Serval's TCP checksum (docs/serval-protocol.md section 8): the IPv4
pseudo-header with the IP addresses, protocol 6 and the TCP length (TCP
header + payload, SAL excluded), over TCP header and payload.
"""
import argparse
import fcntl
import json
import os
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33

VNET_F_NEEDS_CSUM = 1
VNET_GSO_NONE = 0
VNET_GSO_TCPV4 = 1
VNET_HDR = struct.Struct("<BBHHHH")  # flags gso_type hdr_len gso_size cs_start cs_off

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02

IPPROTO_SAL = 144
ETH_LEN, IP_LEN, SAL_BASE_LEN, TCP_LEN = 14, 20, 12, 20
KINDS = ("sal", "sal-ext", "tcp", "bad-shl", "bad-proto", "bad-csum-start")
TCP_FIN, TCP_PSH, TCP_ACK = 0x01, 0x08, 0x10
SRC_FLOW, DST_FLOW = 0x5a1f0001, 0x5a1f0002


def csum_sum(data, s=0):
    if len(data) % 2:
        data += b"\0"
    for (w,) in struct.iter_unpack("!H", data):
        s += w
    return s


def csum_fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inet_csum(data):
    return ~csum_fold(csum_sum(data)) & 0xFFFF


def pseudo_sum(src, dst, length):
    """IPv4 pseudo-header with protocol 6 (Serval TCP, not 144)."""
    return csum_sum(socket.inet_aton(src) + socket.inet_aton(dst) +
                    struct.pack("!BBH", 0, socket.IPPROTO_TCP, length))


def pattern(n):
    return bytes(((i * 151) ^ (i >> 7) ^ (i >> 15)) & 0xFF for i in range(n))


def sal_header(kind):
    """The SAL header of --kind (b"" for a plain TCP control packet)."""
    if kind == "tcp":
        return b""
    ext = b""
    if kind == "sal-ext":
        # A CONTROL extension (20 bytes, flags ACK): SHL 8.
        ext = struct.pack("!BBBBII8s", 1 << 4, 20, 0x20, 0, 7, 9, b"nonce-42")
    shl = (SAL_BASE_LEN + len(ext)) // 4
    proto = socket.IPPROTO_TCP
    if kind == "bad-shl":
        shl = 2
    if kind == "bad-proto":
        proto = socket.IPPROTO_UDP
    hdr = struct.pack("!IIBBH", SRC_FLOW, DST_FLOW, shl, proto, 0) + ext
    return hdr[:10] + struct.pack("!H", inet_csum(hdr)) + hdr[12:]


def build(a):
    """The super-packet: (IPv4 header, SAL, TCP header with seed, payload)."""
    payload = pattern(a.payload)
    tcp_len = TCP_LEN + len(payload)
    # Partial checksum: the pseudo-header sum, folded, not complemented
    # (what __tcp_v4_send_check leaves for the device).
    seed = csum_fold(pseudo_sum(a.src, a.dst, tcp_len))
    tcp = struct.pack("!HHIIBBHHH", 0, 0, a.seq, 0x01020304, TCP_LEN // 4 << 4,
                      TCP_ACK | TCP_PSH | TCP_FIN, 4096, seed, 0)
    sal = sal_header(a.kind)
    tot = IP_LEN + len(sal) + tcp_len
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, a.id, 0x4000, 64,
                     ip_proto(a), 0, socket.inet_aton(a.src),
                     socket.inet_aton(a.dst))
    ip = ip[:10] + struct.pack("!H", inet_csum(ip)) + ip[12:]
    return ip, sal, tcp, payload


def ip_proto(a):
    return socket.IPPROTO_TCP if a.kind == "tcp" else IPPROTO_SAL


def mac_of(ifname):
    with open(f"/sys/class/net/{ifname}/address") as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def cmd_send(a):
    ip, sal, tcp, payload = build(a)
    eth = bytes.fromhex(a.dst_mac.replace(":", "")) + mac_of(a.ifname) + \
        struct.pack("!H", ETH_P_IP)
    hdr_len = ETH_LEN + IP_LEN + len(sal) + TCP_LEN
    csum_start = ETH_LEN + IP_LEN + len(sal)
    if a.kind == "bad-csum-start":
        csum_start = ETH_LEN + IP_LEN  # on the SAL header, not on TCP
    vnet = VNET_HDR.pack(VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, hdr_len,
                         a.gso_size, csum_start, 16)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.bind((a.ifname, 0))
    try:
        n = s.send(vnet + eth + ip + sal + tcp + payload)
    except OSError as e:
        # veth is a noqueue device: a GSO failure in validate_xmit_skb()
        # comes back from dev_queue_xmit() as its default -ENOMEM.
        print(f"send failed: {e.strerror} ({os.strerror(e.errno)}, "
              f"errno {e.errno})")
        return 3
    print(f"sent: {n - VNET_HDR.size} bytes on {a.ifname}, IP length "
          f"{len(ip + sal + tcp + payload)}, gso_size {a.gso_size}")
    return 0


class Source:
    """Frames with their virtio_net_hdr, from a packet socket or a tap."""

    def __init__(self, a):
        if a.tap:
            self.fd = os.open("/dev/net/tun", os.O_RDWR)
            ifr = struct.pack("16sH", a.tap.encode(),
                              IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
            fcntl.ioctl(self.fd, TUNSETIFF, ifr)
            # Like a TSO-capable NIC (or virtio_net's host): the device
            # accepts TCPv4 GSO and partial checksums.
            fcntl.ioctl(self.fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4)
            self.sock = None
        else:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                      socket.htons(ETH_P_ALL))
            self.sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
            self.sock.bind((a.ifname, ETH_P_ALL))
            self.fd = self.sock.fileno()

    def read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not r:
            return None
        if self.sock:
            data, addr = self.sock.recvfrom(1 << 17)
            if addr[2] == PACKET_OUTGOING:
                return b""
        else:
            data = os.read(self.fd, 1 << 17)
        return data


def flow_frame(frame, a):
    if len(frame) < ETH_LEN + IP_LEN or frame[12:14] != b"\x08\x00":
        return False
    ip = frame[ETH_LEN:]
    return (ip[9] == ip_proto(a) and ip[12:16] == socket.inet_aton(a.src) and
            ip[16:20] == socket.inet_aton(a.dst))


def complete_partial(frame, vnet):
    """Does what the device would do for a NEEDS_CSUM frame."""
    start, off = vnet[4], vnet[5]
    c = inet_csum(frame[start:])
    return frame[:start + off] + struct.pack("!H", c) + frame[start + off + 2:]


def check_frames(frames, a, expect):
    ip0, sal0, tcp0, payload0 = build(a)
    res = {"frames": len(frames), "errors": []}
    err = res["errors"].append
    segs = []
    partial = full = 0
    max_ip = 0
    for vnet_raw, frame in frames:
        vnet = VNET_HDR.unpack(vnet_raw)
        ip = frame[ETH_LEN:ETH_LEN + IP_LEN]
        tot = struct.unpack("!H", ip[2:4])[0]
        max_ip = max(max_ip, tot)
        if ip[0] != 0x45:
            err("IPv4 version/IHL is not 0x45")
        if inet_csum(ip):
            err(f"IPv4 header checksum wrong (id {ip[4:6].hex()})")
        if tot != len(frame) - ETH_LEN:
            err(f"tot_len {tot} but frame carries {len(frame) - ETH_LEN}")
        if ip[6:8] != ip0[6:8]:
            err("DF/fragment field changed")
        sal = frame[ETH_LEN + IP_LEN:ETH_LEN + IP_LEN + len(sal0)]
        if sal != sal0:
            err(f"SAL header differs: {sal.hex()}")
        toff = ETH_LEN + IP_LEN + len(sal0)
        tcp_len = tot - IP_LEN - len(sal0)
        if vnet[0] & VNET_F_NEEDS_CSUM:
            partial += 1
            if vnet[4] != toff or vnet[5] != 16:
                err(f"csum_start/offset {vnet[4]}/{vnet[5]} not on TCP")
            done = complete_partial(frame, vnet)
        else:
            full += 1
            done = frame
        s = pseudo_sum(a.src, a.dst, tcp_len)
        if csum_fold(csum_sum(done[toff:], s)) != 0xFFFF:
            err(f"TCP checksum wrong ({'partial' if vnet[0] & 1 else 'full'})"
                f" at seq {struct.unpack('!I', frame[toff + 4:toff + 8])[0]}")
        (seq, ack, doff, flags, win) = struct.unpack(
            "!IIBBH", frame[toff + 4:toff + 16])
        segs.append({"id": struct.unpack("!H", ip[4:6])[0], "seq": seq,
                     "ack": ack, "doff": doff >> 4, "flags": flags, "win": win,
                     "payload": frame[toff + TCP_LEN:], "gso": vnet[1],
                     "gso_size": vnet[3], "ip_len": tot})
    res.update(partial_csum=partial, full_csum=full, max_ip_len=max_ip)
    if expect == "none":
        if frames:
            err(f"expected no frame, got {len(frames)}")
        return res
    if not frames:
        err("no frame of the flow arrived")
        return res
    segs.sort(key=lambda x: x["seq"])
    data = b"".join(x["payload"] for x in segs)
    if data != payload0:
        err(f"reassembled payload differs ({len(data)} of {len(payload0)})")
    base_seq, base_id = a.seq, a.id
    if expect == "super":
        if len(segs) != 1:
            err(f"expected 1 super-packet, got {len(segs)} frames")
        x = segs[0]
        if x["gso"] != VNET_GSO_TCPV4 or x["gso_size"] != a.gso_size:
            err(f"not a TCPv4 GSO frame of gso_size {a.gso_size}: "
                f"gso_type {x['gso']} gso_size {x['gso_size']}")
        res.update(gso_type=x["gso"], gso_size=x["gso_size"])
        return res
    want = -(-a.payload // a.gso_size)
    if expect == "merged":
        # GRO: fewer, larger frames, contiguous, the GSO ones with gso_size.
        res["merged_frames"] = len(segs)
        res["payload_per_frame"] = [len(x["payload"]) for x in segs]
        if len(segs) >= want:
            err(f"{len(segs)} frames for {want} segments: nothing merged")
        seq = base_seq
        for i, x in enumerate(segs):
            last = i == len(segs) - 1
            if x["seq"] != seq & 0xFFFFFFFF:
                err(f"frame {i} seq {x['seq']}, expected {seq}")
            seq += len(x["payload"])
            if len(x["payload"]) > a.gso_size and (
                    x["gso"] != VNET_GSO_TCPV4 or x["gso_size"] != a.gso_size):
                err(f"frame {i} of {len(x['payload'])} bytes: gso_type "
                    f"{x['gso']} gso_size {x['gso_size']}")
            want_flags = TCP_ACK | (TCP_PSH | TCP_FIN if last else 0)
            if x["flags"] != want_flags:
                err(f"frame {i} flags {x['flags']:#x}")
        return res
    res["segments"] = len(segs)
    if len(segs) != want:
        err(f"expected {want} segments, got {len(segs)}")
    if max_ip > a.mtu:
        err(f"segment of {max_ip} bytes exceeds MTU {a.mtu}")
    for i, x in enumerate(segs):
        last = i == len(segs) - 1
        if x["gso"] != VNET_GSO_NONE:
            err(f"segment {i} still marked GSO ({x['gso']})")
        if x["seq"] != (base_seq + i * a.gso_size) & 0xFFFFFFFF:
            err(f"segment {i} seq {x['seq']}")
        if not last and len(x["payload"]) != a.gso_size:
            err(f"segment {i} carries {len(x['payload'])} bytes")
        if x["id"] != (base_id + i) & 0xFFFF:
            err(f"segment {i} IP id {x['id']}, expected {base_id + i}")
        if x["ack"] != 0x01020304 or x["doff"] != 5 or x["win"] != 4096:
            err(f"segment {i} TCP ack/doff/window changed")
        want_flags = TCP_ACK | (TCP_PSH | TCP_FIN if last else 0)
        if x["flags"] != want_flags:
            err(f"segment {i} flags {x['flags']:#x}, expected {want_flags:#x}")
    return res


def cmd_recv(a):
    src = Source(a)
    sal0 = sal_header(a.kind)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    frames = []
    have = 0
    end = time.monotonic() + a.timeout
    while True:
        data = src.read(end - time.monotonic())
        if data is None:
            break
        if len(data) < VNET_HDR.size:
            continue
        vnet, frame = data[:VNET_HDR.size], data[VNET_HDR.size:]
        if not flow_frame(frame, a):
            continue
        frames.append((vnet, frame))
        have += len(frame) - ETH_LEN - IP_LEN - len(sal0) - TCP_LEN
        if have >= a.payload:
            # Whole payload seen: a short grace shows extra frames.
            end = min(end, time.monotonic() + 0.5)
    res = check_frames(frames, a, a.expect)
    if frames and a.csum == "partial" and res["full_csum"]:
        res["errors"].append(f"{res['full_csum']} frames lost "
                             "CHECKSUM_PARTIAL (checksummed in software)")
    if frames and a.csum == "full" and res["partial_csum"]:
        res["errors"].append(f"{res['partial_csum']} frames still carry a "
                             "partial checksum")
    res["case"] = a.label
    res["expect"] = a.expect
    ok = not res["errors"]
    res["result"] = "ok" if ok else "FAIL"
    print(json.dumps(res, sort_keys=True))
    return 0 if ok else 1


NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_PAYLOAD, NFQA_SKB_INFO = 1, 2, 10, 14
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 4, 5
NFQNL_CFG_CMD_BIND, NFQNL_COPY_PACKET = 1, 2
NFQA_CFG_F_GSO = 1 << 2
NFQA_SKB_CSUMNOTREADY, NFQA_SKB_GSO = 1, 2
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def nla(kind, data):
    hdr = struct.pack("=HH", 4 + len(data), kind)
    return hdr + data + b"\0" * (-len(data) % 4)


def nfq_msg(msg, queue, attrs, flags=NLM_F_REQUEST, seq=0):
    body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), NFNL_SUBSYS_QUEUE << 8 | msg,
                       flags, seq, 0) + body


def nla_parse(data):
    attrs = {}
    while len(data) >= 4:
        ln, kind = struct.unpack("=HH", data[:4])
        if ln < 4:
            break
        attrs[kind & 0x3FFF] = data[4:ln]
        data = data[(ln + 3) & ~3:]
    return attrs


def nfq_config(sock, queue, attrs, seq):
    sock.send(nfq_msg(NFQNL_MSG_CONFIG, queue, attrs,
                      NLM_F_REQUEST | NLM_F_ACK, seq))
    data = sock.recv(65536)
    ln, kind = struct.unpack("=IH", data[:6])
    if kind == NLMSG_ERROR:
        err = struct.unpack("=i", data[16:20])[0]
        if err:
            raise OSError(-err, f"NFQUEUE config: {os.strerror(-err)}")


def to_sal(pkt, junk_check):
    """An IPv4/TCP packet rewritten to IPv4/SAL/TCP (what the engine does).

    junk_check: write 0xdead into the TCP checksum, to see whether the
    kernel recomputes it (CHECKSUM_NONE after the verdict) or trusts it.
    """
    ihl = (pkt[0] & 0xF) * 4
    if junk_check:
        pkt = pkt[:ihl + 16] + b"\xde\xad" + pkt[ihl + 18:]
    sal = sal_header("sal")
    ip = bytearray(pkt[:ihl])
    struct.pack_into("!H", ip, 2, len(pkt) + len(sal))
    ip[9] = IPPROTO_SAL
    struct.pack_into("!H", ip, 10, 0)
    struct.pack_into("!H", ip, 10, inet_csum(bytes(ip)))
    return bytes(ip) + sal + pkt[ihl:]


def cmd_nfq_sal(a):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    sock.bind((0, 0))
    nfq_config(sock, a.queue, [nla(NFQA_CFG_CMD, struct.pack(
        "!BBH", NFQNL_CFG_CMD_BIND, 0, socket.AF_INET))], 1)
    nfq_config(sock, a.queue, [
        nla(NFQA_CFG_PARAMS, struct.pack("!IB", 0xFFFF, NFQNL_COPY_PACKET)),
        nla(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_GSO)),
        nla(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_GSO))], 2)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    seen = []
    end = time.monotonic() + a.timeout
    while len(seen) < a.count:
        r, _, _ = select.select([sock], [], [], max(end - time.monotonic(), 0))
        if not r:
            break
        data = sock.recv(1 << 18)
        while len(data) >= 16:
            ln, kind = struct.unpack("=IH", data[:6])
            msg, data = data[:ln], data[(ln + 3) & ~3:]
            if kind != (NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET):
                continue
            attrs = nla_parse(msg[20:])
            pid = struct.unpack("!I", attrs[NFQA_PACKET_HDR][:4])[0]
            pkt = attrs.get(NFQA_PAYLOAD, b"")
            info = struct.unpack("!I", attrs[NFQA_SKB_INFO])[0] \
                if NFQA_SKB_INFO in attrs else 0
            verdict = [nla(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT,
                                                         pid))]
            out = pkt
            if len(pkt) > IP_LEN and pkt[9] == socket.IPPROTO_TCP:
                out = to_sal(pkt, a.junk_check)
                verdict.append(nla(NFQA_PAYLOAD, out))
            sock.send(nfq_msg(NFQNL_MSG_VERDICT, a.queue, verdict))
            seen.append({"len": len(pkt), "verdict_len": len(out),
                         "gso": bool(info & NFQA_SKB_GSO),
                         "csum_not_ready": bool(info & NFQA_SKB_CSUMNOTREADY)})
    ok = len(seen) == a.count and all(x["gso"] or not a.expect_gso
                                      for x in seen)
    res = {"case": a.label, "queued": seen, "result": "ok" if ok else "FAIL"}
    print(json.dumps(res, sort_keys=True))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("nfq-sal")
    q.add_argument("--queue", type=int, required=True)
    q.add_argument("--count", type=int, default=1)
    q.add_argument("--timeout", type=float, default=5.0)
    q.add_argument("--ready")
    q.add_argument("--label", default="nfq")
    q.add_argument("--expect-gso", action="store_true",
                   help="fail unless every queued packet is GSO")
    q.add_argument("--junk-check", action="store_true",
                   help="put 0xdead in the TCP checksum of the verdict")
    for name in ("send", "recv"):
        q = sub.add_parser(name)
        q.add_argument("--src", default="10.0.1.1")
        q.add_argument("--dst", default="10.0.2.2")
        q.add_argument("--payload", type=int, default=60000)
        q.add_argument("--gso-size", type=int, default=1448)
        q.add_argument("--seq", type=int, default=0x10000000)
        q.add_argument("--id", type=int, default=0x1234)
        q.add_argument("--ifname")
        q.add_argument("--kind", default="sal", choices=KINDS,
                       help="sal: SHL 3; sal-ext: SHL 8 (CONTROL extension); "
                       "tcp: plain TCP (control); bad-*: malformed")
        if name == "send":
            q.add_argument("--dst-mac", required=True)
        else:
            q.add_argument("--tap")
            q.add_argument("--ready")
            q.add_argument("--expect", required=True,
                           choices=("segments", "super", "merged", "none"))
            q.add_argument("--mtu", type=int, default=1500)
            q.add_argument("--timeout", type=float, default=5.0)
            q.add_argument("--label", default="")
            q.add_argument("--csum", default="any",
                           choices=("any", "partial", "full"),
                           help="how TCP checksums must arrive: still "
                           "CHECKSUM_PARTIAL (NEEDS_CSUM), or complete")
    a = p.parse_args()
    if a.cmd == "send":
        return cmd_send(a)
    if a.cmd == "nfq-sal":
        return cmd_nfq_sal(a)
    if not a.ifname and not a.tap:
        p.error("recv needs --ifname or --tap")
    return cmd_recv(a)


if __name__ == "__main__":
    sys.exit(main())
