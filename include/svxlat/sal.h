/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * SAL header codec: a bounded, validating parser that yields a view (offsets
 * of each extension) and a builder that emits the reference's canonical
 * layout (CONTROL, SERVICE..., SOURCE) from a field-level spec. Decoding a
 * canonical header into a spec and building it again gives the same bytes.
 * Nothing here allocates; all functions may run in packet context.
 */
#ifndef SVXLAT_SAL_H
#define SVXLAT_SAL_H

#include "types.h"
#include "wire.h"
#include "err.h"
#include "sid.h"

SVX_EXTERN_C_BEGIN

/* Offsets are from the first byte of the SAL base header; 0 means absent
 * (no extension can start before byte 12).
 */
struct svx_sal_view {
	u16 len;		/* SHL * 4: where the transport header starts */
	u8 protocol;		/* transport protocol number */
	u8 flags;		/* CONTROL flag byte, 0 without CONTROL */
	u8 n_elems;		/* extension elements, each PAD byte counts */
	u8 n_pad;
	u8 n_service;
	u8 n_source;		/* addresses in SOURCE, 0 without */
	bool canonical;		/* no PAD/ADDRESS, order CONTROL, SERVICE, SOURCE */
	u16 ctrl_off;
	u16 service_off[2];	/* [0] destination service, [1] source service */
	u16 source_off;
	u16 address_off;
};

/* Skip the SAL checksum check (it is then the caller's job). */
#define SVX_SAL_PARSE_NO_CSUM 0x01

/*
 * Parses the SAL header at sal[0..len): len may include the transport and
 * payload after it. Follows section 4.7 of the protocol, and additionally
 * rejects CONTROL and SERVICE extensions whose length is not exactly 20 and
 * 36 (the reference would ignore them and then drop the packet anyway) and
 * SOURCE lengths that are not 4 + 4N.
 */
enum svx_err svx_sal_parse(const u8 *sal, size_t len, unsigned int opts, struct svx_sal_view *v);

static inline u32 svx_sal_src_flow(const u8 *sal)
{
	return svx_get_be32(sal);
}

static inline u32 svx_sal_dst_flow(const u8 *sal)
{
	return svx_get_be32(sal + 4);
}

static inline u32 svx_sal_verno(const u8 *sal, const struct svx_sal_view *v)
{
	return v->ctrl_off ? svx_get_be32(sal + v->ctrl_off + 4) : 0;
}

static inline u32 svx_sal_ackno(const u8 *sal, const struct svx_sal_view *v)
{
	return v->ctrl_off ? svx_get_be32(sal + v->ctrl_off + 8) : 0;
}

/* The CONTROL nonce, or NULL without CONTROL. */
static inline const u8 *svx_sal_nonce(const u8 *sal, const struct svx_sal_view *v)
{
	return v->ctrl_off ? sal + v->ctrl_off + 12 : NULL;
}

/* Service ID i (0 = destination), or NULL when absent. */
static inline const u8 *svx_sal_service(const u8 *sal, const struct svx_sal_view *v, unsigned int i)
{
	return i < v->n_service && i < 2 ? sal + v->service_off[i] + 4 : NULL;
}

/* SOURCE address i (i < n_source). */
static inline const u8 *svx_sal_source_addr(const u8 *sal, const struct svx_sal_view *v, unsigned int i)
{
	return sal + v->source_off + SVX_EXT_SOURCE_HDR_LEN + 4 * i;
}

/* Field-level description of a SAL header, input of the builder. Reserved
 * fields are kept so that a decoded header re-encodes byte for byte; fill
 * them with zero for packets svxlat originates.
 */
struct svx_sal_ctrl {
	u8 flags;
	u8 res_nibble;
	u8 reserved2;
	u32 verno;
	u32 ackno;
	u8 nonce[SVX_NONCE_LEN];
};

struct svx_sal_service {
	u8 res_nibble;
	u16 reserved;
	struct svx_sid id;
};

struct svx_sal_spec {
	u32 src_flow;
	u32 dst_flow;
	u8 protocol;
	bool has_ctrl;
	u8 n_service;
	u8 n_source;
	struct svx_sal_ctrl ctrl;
	struct svx_sal_service service[2];
	u8 source_res_nibble;
	u16 source_reserved;
	u8 source[SVX_EXT_SOURCE_MAX_ADDRS][4];
};

/* Bytes the spec encodes to (a multiple of 4, at most 1020). */
size_t svx_sal_spec_len(const struct svx_sal_spec *s);

/* Writes the header and its checksum into out[0..cap). Returns the length
 * written, or -(enum svx_err) (SVX_E_NOSPACE, SVX_E_INVAL).
 */
int svx_sal_build(u8 *out, size_t cap, const struct svx_sal_spec *s);

/* Spec of a parsed header. SVX_E_EXT_LEN when SOURCE holds more than 20
 * addresses (parsable, but more than svxlat ever re-emits).
 */
enum svx_err svx_sal_decode(const u8 *sal, const struct svx_sal_view *v, struct svx_sal_spec *s);

/*
 * A data packet's header: the base header alone (src = local flow, dst =
 * peer flow, protocol TCP) and its checksum, into out[0..SVX_SAL_BASE_LEN).
 * The same bytes as svx_sal_build() of svx_sal_spec_data(), without a spec:
 * this runs for every data segment.
 */
void svx_sal_build_data(u8 *out, u32 local_flow, u32 peer_flow);

/* Recomputes the checksum of the len-byte SAL header at sal. */
void svx_sal_fill_csum(u8 *sal, size_t len);

/* Specs of the packets svxlat originates (protocol doc 4.8, 6.4, 6.8). */
void svx_sal_spec_control(struct svx_sal_spec *s, u32 local_flow, u32 peer_flow, u8 flags,
			  u32 verno, u32 ackno, const u8 nonce[SVX_NONCE_LEN]);

/* SYN: dst flow 0, CONTROL(SYN, verno = iss, ackno 0) + SERVICE(sid). */
void svx_sal_spec_syn(struct svx_sal_spec *s, u32 local_flow, u32 iss,
		      const u8 nonce[SVX_NONCE_LEN], const struct svx_sid *sid);

/* Handshake ACK: CONTROL(ACK, iss + 1, peer_iss + 1) + SERVICE(sid). */
void svx_sal_spec_handshake_ack(struct svx_sal_spec *s, u32 local_flow, u32 peer_flow,
				u32 verno, u32 ackno, const u8 nonce[SVX_NONCE_LEN],
				const struct svx_sid *sid);

/*
 * SYN-ACK of a responder (host agent): CONTROL(SYN|ACK, iss, syn verno + 1)
 * and, when the SYN carried SOURCE, a copy of it with self appended.
 */
enum svx_err svx_sal_spec_synack(struct svx_sal_spec *s, u32 local_flow, u32 iss,
				 const u8 nonce[SVX_NONCE_LEN], const u8 *syn,
				 const struct svx_sal_view *syn_v, const u8 self[4]);

/* Data: base header only. */
static inline void svx_sal_spec_data(struct svx_sal_spec *s, u32 local_flow, u32 peer_flow)
{
	memset(s, 0, sizeof(*s));
	s->src_flow = local_flow;
	s->dst_flow = peer_flow;
	s->protocol = SVX_IPPROTO_TCP;
}

/* SAL FIN: verno = snd_nxt (consumed by the caller), ackno = rcv_nxt. */
static inline void svx_sal_spec_fin(struct svx_sal_spec *s, u32 local_flow, u32 peer_flow,
				    u32 verno, u32 ackno, const u8 nonce[SVX_NONCE_LEN])
{
	svx_sal_spec_control(s, local_flow, peer_flow, SVX_CTL_FIN, verno, ackno, nonce);
}

/* Pure SAL ACK: verno = snd_nxt (not consumed), ackno = rcv_nxt. */
static inline void svx_sal_spec_ack(struct svx_sal_spec *s, u32 local_flow, u32 peer_flow,
				    u32 verno, u32 ackno, const u8 nonce[SVX_NONCE_LEN])
{
	svx_sal_spec_control(s, local_flow, peer_flow, SVX_CTL_ACK, verno, ackno, nonce);
}

/* Active RST (RST|ACK), never with SERVICE. */
static inline void svx_sal_spec_active_rst(struct svx_sal_spec *s, u32 local_flow,
					   u32 peer_flow, u32 verno, u32 ackno,
					   const u8 nonce[SVX_NONCE_LEN])
{
	svx_sal_spec_control(s, local_flow, peer_flow, SVX_CTL_RST | SVX_CTL_ACK, verno, ackno,
			     nonce);
}

/* Passive RST answering the offending header off (section 6.8). SVX_E_INVAL
 * when off itself carries RST: a reset is never answered.
 */
enum svx_err svx_sal_spec_passive_rst(struct svx_sal_spec *s, const u8 *off,
				      const struct svx_sal_view *off_v);

/*
 * Service-router step (section 12): appends hop to the SOURCE extension, or
 * adds SOURCE [orig_src, hop] at the end of the SAL header when there is none,
 * moving everything after the insertion point. buf holds len bytes (SAL header
 * + transport + payload) and has room for cap. Recomputes the SAL checksum and
 * updates *v. Returns the new length, or -(SVX_E_SOURCE_LOOP) when hop is
 * already listed, -(SVX_E_NOSPACE), -(SVX_E_EXT_LEN) beyond 20 addresses.
 * The transport checksum is the caller's (its pseudo-header changes anyway).
 */
int svx_sal_source_append(u8 *buf, size_t len, size_t cap, struct svx_sal_view *v,
			  const u8 orig_src[4], const u8 hop[4]);

SVX_EXTERN_C_END

#endif /* SVXLAT_SAL_H */
