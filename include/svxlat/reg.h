/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Remote service registration (docs/serval-protocol.md sections 9, 14.2 and
 * 14.4): the 48-byte ctrlmsg_register body a host agent sends to a service
 * router, and the unconnected Serval-UDP datagram that carries it.
 *
 * Byte orders of the body, as the reference emits them from x86 hosts:
 *   len   big-endian (always 00 30);
 *   xid   the SENDER's host order. svxlat reads and writes it little-endian,
 *         because every reference sender is x86: xid 1 is 01 00 00 00. The
 *         receiver never interprets it, so nothing depends on the choice
 *         except the bytes of what svxlat sends;
 *   addr  and the service ID are raw network bytes.
 *
 * The registered address is not in the message: it is the IP source of the
 * datagram. addr only carries the previous address of a REREGISTER.
 *
 * The datagram: IPv4 (protocol 144) + SAL (dst flow 0, protocol 17, no
 * CONTROL, SERVICE(destination = router ID), SERVICE(source = host agent's
 * client ID)) + UDP (ports 0, length 56, checksum with the IPv4
 * pseudo-header) + the body.
 *
 * Nothing here allocates; every function may run in packet context.
 */
#ifndef SVXLAT_REG_H
#define SVXLAT_REG_H

#include "types.h"
#include "wire.h"
#include "err.h"
#include "sid.h"
#include "pkt.h"

SVX_EXTERN_C_BEGIN

#define SVX_REG_MSG_LEN 48
/* Flag bits defined in the body's flags byte; any other bit is refused. */
#define SVX_REG_FLAGS_KNOWN SVX_CTRLMSG_REG_FLAG_REREGISTER

/* servd's defaults: router ID 88888, client ID 55555 (htonl in bytes 0-3). */
#define SVX_REG_DEFAULT_ROUTER_ID 88888u
#define SVX_REG_DEFAULT_CLIENT_ID 55555u
/* servd's timers: a host refreshes every 20 s, a router expires after 50 s
 * (2 x 20 + 10). Both are settable in svxlat's daemons.
 */
#define SVX_REG_DEFAULT_REFRESH_SEC 20u
#define SVX_REG_DEFAULT_EXPIRY_SEC 50u

/* IPv4 (20, no options) + SAL (12 + 2 x 36) + UDP (8) + body (48). */
#define SVX_REG_SAL_LEN (SVX_SAL_BASE_LEN + 2 * SVX_EXT_SERVICE_LEN)
#define SVX_REG_UDP_LEN (SVX_UDP_HDR_LEN + SVX_REG_MSG_LEN)
#define SVX_REG_DATAGRAM_LEN (SVX_IPV4_HDR_LEN + SVX_REG_SAL_LEN + SVX_REG_UDP_LEN)

/* A decoded ctrlmsg_register body. */
struct svx_reg_msg {
	u8 type;	 /* SVX_CTRLMSG_REGISTER or SVX_CTRLMSG_UNREGISTER */
	u8 flags;	 /* SVX_CTRLMSG_REG_FLAG_REREGISTER or 0 */
	u8 retval;	 /* 0 when sent; not checked on receive */
	u8 srvid_flags;	 /* sockaddr_sv flags; not checked on receive */
	u16 prefix_bits; /* 1..256; the wire's 0 ("full length") is 256 */
	u32 xid;	 /* the wire's 4 bytes read little-endian */
	u8 addr[4];	 /* previous address with REREGISTER, else ignored */
	struct svx_sid service_id;
};

/* Bytes 0-3 = htonl(number), the rest zero: how servd forms its IDs. */
void svx_reg_sid_from_u32(struct svx_sid *id, u32 number);

/*
 * Writes the 48-byte body. prefix_bits must be 1..256 (256 is sent as 0);
 * SVX_E_INVAL for another prefix, a type other than REGISTER/UNREGISTER or an
 * unknown flag bit. retval, pad and srvid_flags are written as given/zero.
 */
enum svx_err svx_reg_msg_build(u8 out[SVX_REG_MSG_LEN], const struct svx_reg_msg *m);

/*
 * Decodes body[0..len). SVX_E_REG_LEN unless len is 48 and the len field
 * reads 48 big-endian, SVX_E_REG_TYPE for a type other than 0/1,
 * SVX_E_REG_FLAGS for flag bits other than REREGISTER. The pad byte, retval
 * and srvid_flags are not checked (the reference never reads them).
 */
enum svx_err svx_reg_msg_parse(const u8 *body, size_t len, struct svx_reg_msg *m);

/* What a registration datagram says besides its body. */
struct svx_reg_datagram {
	u8 saddr[4];		    /* IP source: the address to register */
	u8 daddr[4];		    /* IP destination (router or broadcast) */
	u32 src_flow;		    /* SAL source flow ID of the sender's socket */
	struct svx_sid dst_service; /* SERVICE #0, normally the router ID */
	struct svx_sid src_service; /* SERVICE #1, the sender's (client) ID */
	struct svx_reg_msg msg;
};

/*
 * Builds the whole IPv4 datagram into out[0..cap): the IPv4 header from ip
 * (addresses, TTL, ID, DF, TOS; its protocol field is ignored, 144 is
 * written), SAL with d->src_flow, dst flow 0 and the two services of d, UDP
 * (ports 0, length 56, checksum with the pseudo-header of ip's addresses) and
 * d->msg. d->saddr and d->daddr are outputs of the parser, ignored here.
 * Returns SVX_REG_DATAGRAM_LEN, or -(enum svx_err): SVX_E_NOSPACE, or the
 * body errors of svx_reg_msg_build().
 */
int svx_reg_datagram_build(u8 *out, size_t cap, const struct svx_ipv4_spec *ip,
			   const struct svx_reg_datagram *d);

/*
 * Parses an IPv4 packet pkt[0..len) as a registration datagram. opts are
 * svx_pkt_parse() options (SVX_PKT_VERIFY_IP_CSUM, SVX_PKT_VERIFY_L4_CSUM,
 * SVX_PKT_UDP_ENCAP, SVX_SAL_PARSE_NO_CSUM); pass SVX_REG_PARSE_STRICT to
 * verify every checksum. Errors: those of svx_pkt_parse(); SVX_E_REG_DATAGRAM
 * when the packet is not an unconnected Serval-UDP datagram (SAL protocol not
 * 17, a CONTROL extension, a non-zero destination flow ID, not exactly two
 * SERVICE extensions or no UDP header); then the body errors of
 * svx_reg_msg_parse(). A SOURCE extension (a datagram that passed another SAL
 * forwarder) is accepted; the IP source is still the sender's. The service
 * IDs are reported, not checked: the caller compares dst_service with its own.
 */
enum svx_err svx_reg_datagram_parse(const u8 *pkt, size_t len, unsigned int opts,
				    struct svx_reg_datagram *d);

#define SVX_REG_PARSE_STRICT (SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM)

SVX_EXTERN_C_END

#endif /* SVXLAT_REG_H */
