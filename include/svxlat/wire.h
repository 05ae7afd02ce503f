/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Wire layouts of the Serval Service Access Layer (SAL) and of the IPv4, TCP
 * and UDP headers around it, exactly as docs/serval-protocol.md (sections 2 to
 * 4, 8, 9 and 14.2) fixes them. Multi-byte fields are big-endian on the wire;
 * code reads them with svx_get_be16/32 at offsetof() positions, so these
 * structs document the layout and pin the sizes, they are never dereferenced
 * as aligned objects.
 */
#ifndef SVXLAT_WIRE_H
#define SVXLAT_WIRE_H

#include "types.h"

#define SVX_IPPROTO_SAL 144
#define SVX_IPPROTO_TCP 6
#define SVX_IPPROTO_UDP 17
#define SVX_UDP_ENCAP_CLIENT_PORT 54324
#define SVX_UDP_ENCAP_SERVER_PORT 54325

/* SAL header length limits, in bytes (SHL counts 32-bit words). */
#define SVX_SAL_BASE_LEN 12
#define SVX_SAL_MAX_LEN 1020
#define SVX_SAL_MAX_ELEMS 10

/* Extension types: the high nibble of the extension's first byte. */
enum svx_ext_type {
	SVX_EXT_PAD = 0,
	SVX_EXT_CONTROL = 1,
	SVX_EXT_SERVICE = 2,
	SVX_EXT_ADDRESS = 3,
	SVX_EXT_SOURCE = 4,
	SVX_EXT_TYPE_MAX = 4,
};

#define SVX_EXT_CONTROL_LEN 20
#define SVX_EXT_SERVICE_LEN 36
#define SVX_EXT_ADDRESS_LEN 12
#define SVX_EXT_SOURCE_HDR_LEN 4
#define SVX_EXT_SOURCE_MIN_ADDRS 2
/* The reference declares 20 addresses; it does not enforce it on receive. */
#define SVX_EXT_SOURCE_MAX_ADDRS 20
#define SVX_EXT_SOURCE_LEN(n) (SVX_EXT_SOURCE_HDR_LEN + 4u * (unsigned int)(n))

/* CONTROL flag byte (offset 2 of the CONTROL extension). */
#define SVX_CTL_SYN 0x80
#define SVX_CTL_RSYN 0x40
#define SVX_CTL_ACK 0x20
#define SVX_CTL_NACK 0x10
#define SVX_CTL_RST 0x08
#define SVX_CTL_FIN 0x04
#define SVX_CTL_RESERVED 0x03

#define SVX_SID_LEN 32
#define SVX_NONCE_LEN 8

struct svx_sal_base {
	u8 src_flowid[4];
	u8 dst_flowid[4];
	u8 shl;		/* whole SAL header length in 32-bit words */
	u8 protocol;	/* transport after the SAL: 6 or 17 */
	u8 check[2];	/* Internet checksum over the SAL header only */
} SVX_PACKED;

struct svx_ext_hdr {
	u8 type_res;	/* type << 4 | reserved nibble */
	u8 length;	/* total bytes, this header included */
} SVX_PACKED;

struct svx_ext_control {
	u8 type_res;
	u8 length;
	u8 flags;
	u8 reserved2;
	u8 verno[4];
	u8 ackno[4];
	u8 nonce[SVX_NONCE_LEN];
} SVX_PACKED;

struct svx_ext_service {
	u8 type_res;
	u8 length;
	u8 reserved[2];
	u8 service_id[SVX_SID_LEN];
} SVX_PACKED;

struct svx_ext_address {
	u8 type_res;
	u8 length;
	u8 reserved[2];
	u8 verno[4];
	u8 ackno[4];
} SVX_PACKED;

struct svx_ext_source {
	u8 type_res;
	u8 length;
	u8 reserved[2];
	/* followed by N >= 2 IPv4 addresses, #0 = the original source */
} SVX_PACKED;

struct svx_ipv4_hdr {
	u8 ver_ihl;
	u8 tos;
	u8 tot_len[2];
	u8 id[2];
	u8 frag_off[2];
	u8 ttl;
	u8 protocol;
	u8 check[2];
	u8 saddr[4];
	u8 daddr[4];
} SVX_PACKED;

#define SVX_IPV4_HDR_LEN 20
#define SVX_IPV4_DF 0x4000
#define SVX_IPV4_MF 0x2000
#define SVX_IPV4_OFFMASK 0x1fff

struct svx_tcp_hdr {
	u8 source[2];
	u8 dest[2];
	u8 seq[4];
	u8 ack_seq[4];
	u8 doff_res;	/* data offset << 4 */
	u8 flags;
	u8 window[2];
	u8 check[2];
	u8 urg_ptr[2];
} SVX_PACKED;

#define SVX_TCP_HDR_LEN 20
#define SVX_TCP_MAX_HDR_LEN 60
#define SVX_TCP_FIN 0x01
#define SVX_TCP_SYN 0x02
#define SVX_TCP_RST 0x04
#define SVX_TCP_PSH 0x08
#define SVX_TCP_ACK 0x10
#define SVX_TCP_URG 0x20

struct svx_udp_hdr {
	u8 source[2];
	u8 dest[2];
	u8 len[2];
	u8 check[2];
} SVX_PACKED;

#define SVX_UDP_HDR_LEN 8

/*
 * Remote registration message (ctrlmsg_register, section 14.2/14.4). The len
 * field is big-endian on the remote channel, xid is the sender's host order.
 */
#define SVX_CTRLMSG_REGISTER 0
#define SVX_CTRLMSG_UNREGISTER 1
#define SVX_CTRLMSG_REG_FLAG_REREGISTER 0x01

struct svx_ctrlmsg_register {
	u8 type;
	u8 retval;
	u8 len[2];
	u8 xid[4];
	u8 flags;
	u8 pad;
	u8 srvid_prefix_bits;	/* 0 = full length */
	u8 srvid_flags;
	u8 addr[4];		/* previous address when re-registering */
	u8 service_id[SVX_SID_LEN];
} SVX_PACKED;

SVX_STATIC_ASSERT(sizeof(struct svx_sal_base) == SVX_SAL_BASE_LEN, "SAL base header is 12 bytes");
SVX_STATIC_ASSERT(sizeof(struct svx_ext_hdr) == 2, "extension header is 2 bytes");
SVX_STATIC_ASSERT(sizeof(struct svx_ext_control) == SVX_EXT_CONTROL_LEN, "CONTROL is 20 bytes");
SVX_STATIC_ASSERT(sizeof(struct svx_ext_service) == SVX_EXT_SERVICE_LEN, "SERVICE is 36 bytes");
SVX_STATIC_ASSERT(sizeof(struct svx_ext_address) == SVX_EXT_ADDRESS_LEN, "ADDRESS is 12 bytes");
SVX_STATIC_ASSERT(sizeof(struct svx_ext_source) == SVX_EXT_SOURCE_HDR_LEN, "SOURCE header is 4 bytes");
SVX_STATIC_ASSERT(sizeof(struct svx_ipv4_hdr) == SVX_IPV4_HDR_LEN, "IPv4 header is 20 bytes");
SVX_STATIC_ASSERT(sizeof(struct svx_tcp_hdr) == SVX_TCP_HDR_LEN, "TCP header is 20 bytes");
SVX_STATIC_ASSERT(sizeof(struct svx_udp_hdr) == SVX_UDP_HDR_LEN, "UDP header is 8 bytes");
SVX_STATIC_ASSERT(sizeof(struct svx_ctrlmsg_register) == 48, "ctrlmsg_register is 48 bytes");
SVX_STATIC_ASSERT(SVX_SAL_MAX_LEN == 255 * 4, "SHL is one byte of 32-bit words");

#endif /* SVXLAT_WIRE_H */
