/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Whole IPv4 packets carrying SAL: parse (IPv4, optional UDP encapsulation,
 * SAL, transport header), build an IPv4 header, fill transport checksums.
 */
#ifndef SVXLAT_PKT_H
#define SVXLAT_PKT_H

#include "types.h"
#include "wire.h"
#include "err.h"
#include "sal.h"

SVX_EXTERN_C_BEGIN

/* Offsets are from the first byte of the IPv4 header. */
struct svx_pkt_view {
	u16 ip_hlen;
	u16 ip_len;		/* IPv4 total length; bytes after it are ignored */
	u8 ip_proto;
	bool udp_encap;		/* SAL inside UDP (section 13) */
	u16 sal_off;
	struct svx_sal_view sal;
	u16 l4_off;		/* transport header; == ip_len when there is none */
	u16 l4_len;		/* transport header + payload */
	u16 l4_hlen;		/* 0 when there is no transport header */
};

#define SVX_PKT_VERIFY_IP_CSUM 0x02	/* check the IPv4 header checksum */
#define SVX_PKT_VERIFY_L4_CSUM 0x04	/* check the TCP/UDP checksum */
#define SVX_PKT_UDP_ENCAP 0x08		/* accept SAL in UDP to/from 54324/54325 */
/* SVX_SAL_PARSE_NO_CSUM (0x01) is honoured too. */

enum svx_err svx_pkt_parse(const u8 *pkt, size_t len, unsigned int opts, struct svx_pkt_view *v);

/* The IPv4 header checks every parser starts with: version 4, header and
 * total length within len, no fragment; the header checksum with
 * SVX_PKT_VERIFY_IP_CSUM. Sets *hlen and *tot_len.
 */
enum svx_err svx_ipv4_parse(const u8 *pkt, size_t len, unsigned int opts, unsigned int *hlen,
			    unsigned int *tot_len);

static inline const u8 *svx_ip_saddr(const u8 *pkt)
{
	return pkt + 12;
}

static inline const u8 *svx_ip_daddr(const u8 *pkt)
{
	return pkt + 16;
}

struct svx_ipv4_spec {
	u8 saddr[4];
	u8 daddr[4];
	u8 protocol;
	u8 ttl;
	u8 tos;
	u16 id;
	bool df;
};

/* Writes a 20-byte IPv4 header (no options) with its checksum. */
void svx_ipv4_build(u8 hdr[SVX_IPV4_HDR_LEN], const struct svx_ipv4_spec *s, u16 tot_len);

/* Recomputes the IPv4 header checksum in place. */
void svx_ipv4_fill_csum(u8 *pkt);

/* Writes the full TCP or UDP checksum of the parsed packet's transport
 * segment (pseudo-header from the IPv4 addresses in pkt). SVX_E_L4_PROTO
 * when there is no transport header.
 */
enum svx_err svx_pkt_fill_l4_csum(u8 *pkt, const struct svx_pkt_view *v);

SVX_EXTERN_C_END

#endif /* SVXLAT_PKT_H */
