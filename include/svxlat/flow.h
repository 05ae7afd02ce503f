/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The per-flow translation state machine, shared by the translator and the
 * host agent (docs/translation.md).
 *
 * Both roles bridge a plain TCP connection and a Serval (SAL + TCP) one:
 *
 *   translator:  legacy client  <-TCP->  [flow]  <-SAL->  service instance
 *   host agent:  local server   <-TCP->  [flow]  <-SAL->  translator/client
 *
 * The translator is the Serval client (sends the SAL SYN), the host agent the
 * Serval server (answers it). Everything after the handshake - data, the
 * TCP-FIN-then-SAL-FIN close, resets, migration, ICMP - is the same code.
 *
 * The glue (NFQUEUE engine, kernel module) owns the flow table: it looks a
 * flow up (TCP side by the 4-tuple, SAL side by the local flow ID), creates
 * it with svx_flow_init_*() and then hands every packet to
 * svx_flow_from_tcp() or svx_flow_from_sal(). The core never allocates: the
 * packets it originates or rewrites are written into a caller-provided
 * struct svx_emit, and the original packet is consumed.
 */
#ifndef SVXLAT_FLOW_H
#define SVXLAT_FLOW_H

#include "types.h"
#include "wire.h"
#include "err.h"
#include "sid.h"
#include "sal.h"
#include "pkt.h"

SVX_EXTERN_C_BEGIN

enum svx_role {
	SVX_ROLE_TRANSLATOR = 1,
	SVX_ROLE_HOST = 2,
};

enum svx_flow_state {
	SVX_FS_SYN_SENT = 0,	/* translator: SAL SYN out, waiting for the SYN-ACK */
	SVX_FS_SYN_RECV,	/* host agent: SAL SYN in, waiting for the handshake ACK */
	SVX_FS_ESTABLISHED,
	SVX_FS_CLOSING,		/* a FIN (TCP or SAL) has been seen */
	SVX_FS_TIME_WAIT,	/* both directions closed; absorbs retransmissions */
	SVX_FS_CLOSED,		/* reset; kept briefly for stragglers */
	SVX_FS__COUNT,
};

/* Timeout classes (settable; seconds in the daemon's config). */
enum svx_timeout {
	SVX_TO_EMBRYONIC = 0,	/* SYN_SENT, SYN_RECV */
	SVX_TO_ESTABLISHED,
	SVX_TO_CLOSING,
	SVX_TO_TIME_WAIT,	/* TIME_WAIT and CLOSED */
	SVX_TO__COUNT,
};

const char *svx_flow_state_name(enum svx_flow_state state);
enum svx_timeout svx_flow_timeout_class(enum svx_flow_state state);

struct svx_flow_cfg {
	u16 sal_mtu;		/* MTU towards the Serval side */
	u16 tcp_mtu;		/* MTU towards the plain TCP side */
	u8 ttl;			/* TTL of originated packets */
	u8 max_retrans;		/* SAL FIN / RSYN-ACK retransmissions before giving up */
	u32 rto_initial_ms;	/* first SAL control retransmission */
	u32 rto_max_ms;
	/*
	 * How long the SAL ACK of the peer's SAL FIN may wait for our own SAL
	 * FIN, to go out with it as one FIN|ACK (section 6.6 step 5); 0 = ACK
	 * at once. The engines' timers run every 100 ms: the default 40 ms
	 * plus that stays below the peer's minimum RTO (200 ms).
	 */
	u32 fin_ack_delay_ms;
};

/* Largest fin_ack_delay_ms: with the engines' 100 ms tick the ACK leaves by
 * the reference's 200 ms minimum RTO at the latest (a retransmitted FIN is
 * acknowledged at once anyway).
 */
#define SVX_FIN_ACK_DELAY_MAX_MS 100

/* Flow flags. */
#define SVX_FF_STRIP_OPTS 0x0001	/* strip SACK/timestamps from SYNs (original stack peer) */
#define SVX_FF_HS_ACK_DUE 0x0002	/* translator: next client segment completes the SAL handshake */
#define SVX_FF_TCP_FIN 0x0004		/* TCP side sent FIN (tcp_fin_seq valid) */
#define SVX_FF_SAL_FIN 0x0008		/* SAL side sent a TCP FIN (sal_fin_seq valid) */
#define SVX_FF_TCP_FIN_ACKED 0x0010	/* the SAL side acknowledged the TCP side's FIN */
#define SVX_FF_SAL_FIN_ACKED 0x0020	/* the TCP side acknowledged the SAL side's FIN */
#define SVX_FF_OUR_SALFIN 0x0040	/* our SAL FIN sent */
#define SVX_FF_OUR_SALFIN_ACKED 0x0080	/* ... and acknowledged */
#define SVX_FF_PEER_SALFIN 0x0100	/* the peer's SAL FIN received (and answered) */
#define SVX_FF_MIGRATING 0x0200		/* RSYN received, RSYN-ACK pending */
#define SVX_FF_TCP_SEEN 0x0400		/* tcp_nxt valid */
#define SVX_FF_SAL_SEEN 0x0800		/* sal_nxt valid */

#define SVX_FLOW_MAX_SOURCE 8

struct svx_flow_stats {
	u64 packets_in[2];	/* [0] from the TCP side, [1] from the SAL side */
	u64 bytes_in[2];	/* transport payload bytes */
	u64 packets_out;
};

struct svx_flow {
	u8 role;
	u8 state;
	u16 flags;

	/*
	 * TCP side. remote is the real TCP endpoint (translator: the client;
	 * host agent: the local server); self is the endpoint svxlat speaks as
	 * (translator: the public address and port; host agent: the Serval
	 * peer's address and a per-flow port).
	 */
	u8 tcp_remote_addr[4];
	u8 tcp_self_addr[4];
	u16 tcp_remote_port;
	u16 tcp_self_port;

	/* SAL side */
	u8 sal_local_addr[4];
	u8 sal_peer_addr[4];
	u8 sal_new_peer_addr[4];	/* migration target until confirmed */
	u32 local_flow;
	u32 peer_flow;
	u8 local_nonce[SVX_NONCE_LEN];
	u8 peer_nonce[SVX_NONCE_LEN];
	u32 iss;
	u32 snd_una;
	u32 snd_nxt;
	u32 rcv_nxt;
	u32 peer_iss;
	struct svx_sid service;

	/* host agent: SOURCE of the SYN, echoed in the SYN-ACK */
	u8 n_source;
	u8 source[SVX_FLOW_MAX_SOURCE][4];

	/* TCP sequence tracking, for FIN/RST handling only */
	u32 tcp_nxt;		/* next sequence number of the TCP side */
	u32 sal_nxt;		/* next sequence number of the SAL side's TCP */
	u32 tcp_fin_seq;
	u32 sal_fin_seq;
	u16 mss_cap_sal;	/* largest payload per SAL segment */

	/* SAL control retransmission (single slot, as the reference) */
	u8 ctl_pending;		/* flags of the pending packet, 0 = none;
				 * SVX_CTL_ACK alone: a delayed ACK, due at
				 * rto_deadline_ms and never retransmitted
				 */
	u8 retrans;
	u32 ctl_verno;
	u64 rto_deadline_ms;
	u32 rto_ms;

	u64 created_ms;
	u64 last_ms;
	struct svx_flow_stats stats;
};

/* Output of a call: the packets to send, in order, each a full IPv4 packet. */
struct svx_emit_pkt {
	u32 off;
	u32 len;
};

/*
 * Header plan: instead of copying and segmenting the translated segment, the
 * core writes only its new headers (IPv4 [+ SAL] + TCP, TCP checksum zero)
 * and says which bytes of the input packet are its payload; the glue puts
 * those headers in front of the payload in place, sets up a partial TCP
 * checksum and leaves segmentation to GSO (mss bytes of payload per packet).
 * The planned packet comes before every packet in pkts.
 */
struct svx_emit_plan {
	u32 hdr_off;		/* new headers in the arena */
	u16 hdr_len;
	u16 l4_off;		/* TCP header within the new headers */
	u32 payload_off;	/* payload in the input packet */
	u32 payload_len;
	u16 mss;		/* payload per packet that fits the egress MTU */
};

struct svx_emit {
	u8 *arena;
	u32 arena_cap;
	u32 used;
	struct svx_emit_pkt *pkts;
	u16 max_pkts;
	u16 n_pkts;
	u32 overflow;		/* packets that did not fit (counted, lost) */
	const u8 *plan_input;	/* input packet when the glue takes a plan, else NULL */
	u32 plan_readable;	/* bytes of plan_input present (the glue may copy headers only) */
	bool planned;		/* plan below is valid */
	struct svx_emit_plan plan;
};

static inline void svx_emit_init(struct svx_emit *e, u8 *arena, u32 arena_cap,
				 struct svx_emit_pkt *pkts, u16 max_pkts)
{
	e->arena = arena;
	e->arena_cap = arena_cap;
	e->used = 0;
	e->pkts = pkts;
	e->max_pkts = max_pkts;
	e->n_pkts = 0;
	e->overflow = 0;
	e->plan_input = NULL;
	e->planned = false;
}

static inline void svx_emit_reset(struct svx_emit *e)
{
	e->used = 0;
	e->n_pkts = 0;
	e->overflow = 0;
	e->planned = false;
}

/*
 * The next call may answer the translated segment of input with a plan.
 * Only the first readable bytes of input need be present (at least every
 * header): a payload beyond them is never read; a translation that would
 * have to copy it fails with SVX_E_NOSPACE instead (the sender retransmits).
 */
static inline void svx_emit_allow_plan(struct svx_emit *e, const u8 *input, u32 readable)
{
	e->plan_input = input;
	e->plan_readable = readable;
	e->planned = false;
}

/* Room for one more packet of up to len bytes, or NULL (overflow counted);
 * svx_emit_commit() then records its final length (<= len).
 */
u8 *svx_emit_alloc(struct svx_emit *e, u32 len);
void svx_emit_commit(struct svx_emit *e, u32 len);

/* What happened to a packet handed to the state machine. */
enum svx_action {
	SVX_ACT_CONSUMED = 0,	/* translated or answered: outputs in the emit */
	SVX_ACT_DROP,		/* dropped; reason says why */
};

struct svx_result {
	u8 action;
	u8 reason;		/* enum svx_err when dropped or noteworthy */
	bool flow_closed;	/* the flow reached TIME_WAIT or CLOSED in this call */
	bool established;	/* the flow became established in this call */
};

/*
 * Parsed plain TCP packet (IPv4 + TCP), the TCP side's input. Offsets from
 * the IPv4 header.
 */
struct svx_tcp_view {
	u16 ip_hlen;
	u16 ip_len;
	u16 tcp_off;
	u16 tcp_hlen;
	u16 payload_len;
};

enum svx_err svx_tcp_parse(const u8 *pkt, size_t len, struct svx_tcp_view *v);

/* Translator flow for a client SYN. sal_local is the translator's Serval
 * address. Random values (flow ID, ISS, nonce) come from the glue.
 */
void svx_flow_init_translator(struct svx_flow *f, const u8 *syn, const struct svx_tcp_view *tv,
			      const struct svx_sid *service, const u8 sal_local[4],
			      u32 local_flow, u32 iss, const u8 nonce[SVX_NONCE_LEN],
			      bool strip_opts, u64 now_ms);

/*
 * Host-agent flow for a SAL SYN. local_port is the service's TCP port on
 * this host, flow_port the per-flow port the server sees the peer on.
 * SVX_E_EXT_LEN when the SYN's SOURCE holds more than SVX_FLOW_MAX_SOURCE
 * addresses.
 */
enum svx_err svx_flow_init_host(struct svx_flow *f, const u8 *syn, const struct svx_pkt_view *pv,
				u16 local_port, u16 flow_port, u32 local_flow, u32 iss,
				const u8 nonce[SVX_NONCE_LEN], u64 now_ms);

/*
 * A packet from the TCP side. For the translator's SYNs, sal_dst is where
 * the SAL SYN goes (service router or instance: the glue resolves again on
 * every retransmission); it is ignored otherwise and may be NULL.
 */
struct svx_result svx_flow_from_tcp(struct svx_flow *f, const struct svx_flow_cfg *cfg,
				    const u8 *pkt, const struct svx_tcp_view *tv,
				    const u8 *sal_dst, u64 now_ms, struct svx_emit *out);

/* A SAL packet addressed to this flow (dst flow ID = local_flow, or the SYN
 * that created a host-agent flow).
 */
struct svx_result svx_flow_from_sal(struct svx_flow *f, const struct svx_flow_cfg *cfg,
				    const u8 *pkt, const struct svx_pkt_view *pv, u64 now_ms,
				    struct svx_emit *out);

/*
 * ICMP destination unreachable / fragmentation needed received from the
 * Serval side about one of this flow's SAL packets: emits the same error
 * towards the TCP side about the corresponding TCP packet, with the MTU
 * reduced by the SAL overhead. icmp points at the ICMP header, len bytes.
 */
struct svx_result svx_flow_from_icmp(struct svx_flow *f, const struct svx_flow_cfg *cfg,
				     const u8 *icmp, size_t len, u64 now_ms,
				     struct svx_emit *out);

/* Retransmits the pending SAL control packet when its deadline passed.
 * Returns true when the flow gave up (too many retransmissions) and was
 * reset on both sides.
 */
bool svx_flow_tick(struct svx_flow *f, const struct svx_flow_cfg *cfg, u64 now_ms,
		   struct svx_emit *out);

/* Resets both sides (expiry, shutdown, table eviction). */
void svx_flow_abort(struct svx_flow *f, const struct svx_flow_cfg *cfg, struct svx_emit *out);

/*
 * Passive RST answering a SAL packet that matched no flow (section 6.8), or
 * nothing when that packet was itself a reset. Returns true when emitted.
 */
bool svx_emit_passive_rst(const u8 *pkt, const struct svx_pkt_view *pv, u8 ttl,
			  struct svx_emit *out);

/*
 * RST answering a TCP segment that matched no flow (RFC 793 reset
 * generation: seq = its ack when it had ACK, else ack = its seq + length).
 * Nothing for a segment that was itself a reset. Returns true when emitted.
 */
bool svx_emit_tcp_reset_reply(const u8 *pkt, const struct svx_tcp_view *tv, u8 ttl,
			      struct svx_emit *out);

/* Shortest ICMP header + inner IPv4 header + 8 bytes the flow code reads. */
#define SVX_ICMP_HDR_LEN 8
#define SVX_ICMP_DEST_UNREACH 3
#define SVX_ICMP_FRAG_NEEDED 4

/* Inner packet of an ICMP error: the SAL src flow ID of one of our packets
 * (to find the flow), or SVX_E_* when it is not a SAL packet we sent.
 */
enum svx_err svx_icmp_inner_sal_flow(const u8 *icmp, size_t len, u32 *src_flow);

SVX_EXTERN_C_END

#endif /* SVXLAT_FLOW_H */
