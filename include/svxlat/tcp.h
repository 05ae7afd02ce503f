/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * TCP header helpers for translation: sequence arithmetic, option rewriting
 * (MSS clamp, stripping options the original Serval TCP never negotiates)
 * and splitting a super-packet's payload into MTU-size segments.
 */
#ifndef SVXLAT_TCP_H
#define SVXLAT_TCP_H

#include "types.h"
#include "wire.h"

SVX_EXTERN_C_BEGIN

#define SVX_TCPOPT_EOL 0
#define SVX_TCPOPT_NOP 1
#define SVX_TCPOPT_MSS 2
#define SVX_TCPOPT_WSCALE 3
#define SVX_TCPOPT_SACK_PERM 4
#define SVX_TCPOPT_SACK 5
#define SVX_TCPOPT_TIMESTAMP 8

#define SVX_TCP_CWR 0x80
#define SVX_TCP_ECE 0x40

/* Serial-number comparison of 32-bit sequence numbers (RFC 1982). */
static inline bool svx_seq_before(u32 a, u32 b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool svx_seq_after(u32 a, u32 b)
{
	return (int32_t)(a - b) > 0;
}

static inline u32 svx_tcp_seq(const u8 *tcp)
{
	return svx_get_be32(tcp + 4);
}

static inline u32 svx_tcp_ack(const u8 *tcp)
{
	return svx_get_be32(tcp + 8);
}

static inline u8 svx_tcp_flags(const u8 *tcp)
{
	return tcp[13];
}

static inline unsigned int svx_tcp_hlen(const u8 *tcp)
{
	return (unsigned int)(tcp[12] >> 4) * 4;
}

/* Sequence space a segment occupies: payload plus one for SYN and FIN. */
static inline u32 svx_tcp_seq_len(const u8 *tcp, u32 payload_len)
{
	u8 f = svx_tcp_flags(tcp);

	return payload_len + !!(f & SVX_TCP_SYN) + !!(f & SVX_TCP_FIN);
}

#define SVX_TCPOPT_STRIP_SACK_TS 0x01	/* SACK-permitted, SACK blocks, timestamps -> NOP */

/*
 * Rewrites the options of the TCP header at tcp (hlen bytes) in place: an
 * MSS option above mss_cap is lowered to it (mss_cap 0: leave MSS alone) and,
 * with SVX_TCPOPT_STRIP_SACK_TS, SACK and timestamp options become NOPs so the
 * header length never changes. Malformed option lists are left as they are
 * from the first bad option on. Returns true when a byte changed (the caller
 * recomputes the checksum). *mss_seen receives the MSS option after the
 * clamp, or 0 when there is none.
 */
bool svx_tcp_rewrite_options(u8 *tcp, unsigned int hlen, u16 mss_cap, unsigned int flags,
			     u16 *mss_seen);

SVX_EXTERN_C_END

#endif /* SVXLAT_TCP_H */
