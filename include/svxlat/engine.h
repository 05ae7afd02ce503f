/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The packet dispatcher shared by both engines: classifies one IPv4 packet
 * (translator TCP, host-agent TCP, SAL to one of our addresses, ICMP about
 * our SAL packets, service-router traffic), finds or creates its flow and
 * runs the state machine (flow.h) on it. The NFQUEUE workers and the kernel
 * module differ only in the callbacks below: their flow tables, random
 * source, role tables and counters. Nothing here allocates or sleeps.
 *
 * Flow references: a flow returned by find_*() or admit() belongs to the
 * caller until it hands it back with done() (after the state machine ran),
 * or with remove(); a flow whose insert() failed is already released. The
 * kernel glue locks the flow in find_*() and unlocks it in done().
 */
#ifndef SVXLAT_ENGINE_H
#define SVXLAT_ENGINE_H

#include "types.h"
#include "err.h"
#include "flow.h"
#include "reg.h"
#include "sid.h"
#include "stats.h"

SVX_EXTERN_C_BEGIN

/* A service the host agent serves: SYNs for IDs under prefix/bits go to port. */
struct svx_host_service {
	struct svx_sid prefix;
	u16 bits;
	u16 port;
};

/* The longest prefix among services[0..n) that matches id, or NULL. */
const struct svx_host_service *svx_host_service_find(const struct svx_host_service *services,
						     u32 n, const struct svx_sid *id);

/* What a translator table row says about a (public address, port). */
struct svx_xlt_match {
	struct svx_sid service;
	bool strip_opts;
};

struct svx_engine_roles {
	bool translator;
	bool host;
	bool router;
	u8 xlt_addr[4];		/* translator: Serval-side address */
	u8 host_addr[4];
	u8 router_addr[4];
	struct svx_sid router_id;	/* registrations are sent to it */
	const struct svx_host_service *host_services;
	u32 n_host_services;
	/*
	 * Every packet handed over was selected as ours by steering rules
	 * (NFQUEUE): a TCP packet too malformed to classify is dropped with its
	 * reason. Unset (kernel hooks see all traffic): such packets pass.
	 */
	bool steered;
	struct svx_flow_cfg flow;
};

struct svx_engine_ops {
	struct svx_flow *(*find_tcp)(void *ctx, const u8 *remote_addr, const u8 *self_addr,
				     u16 remote_port, u16 self_port);
	struct svx_flow *(*find_local)(void *ctx, u32 local_flow);
	struct svx_flow *(*find_peer)(void *ctx, const u8 *peer_addr, u32 peer_flow);
	/* Storage for a new flow, or NULL when the table is full. May evict
	 * (and abort into out) the oldest embryonic flow.
	 */
	struct svx_flow *(*admit)(void *ctx, struct svx_emit *out);
	/* Publishes an initialised flow under its keys (peer_addr NULL: no
	 * peer key); false when a key is taken (the flow is released). The
	 * glue may instead give the flow another local flow ID when only that
	 * key is taken (nothing has carried it yet).
	 */
	bool (*insert)(void *ctx, struct svx_flow *f, const u8 *peer_addr, u32 peer_flow);
	void (*remove)(void *ctx, struct svx_flow *f);
	void (*done)(void *ctx, struct svx_flow *f);
	u32 (*new_local_flow)(void *ctx);
	bool (*new_flow_port)(void *ctx, u16 *port);
	void (*random)(void *ctx, void *buf, u32 len);
	/* Translator table: the row for a public (address, port), if any. */
	bool (*xlt_row)(void *ctx, const u8 *addr, u16 port, struct svx_xlt_match *m);
	/* Translator: where a SAL SYN for service goes (router or instance). */
	bool (*xlt_sal_dst)(void *ctx, const struct svx_sid *service, u8 *target);
	/*
	 * Service router: a registration to router_id, parsed and checked
	 * (counted by the callback). NULL (the kernel module): registrations
	 * pass untouched, to svxlatd's NFQUEUE worker.
	 */
	void (*router_register)(void *ctx, const struct svx_reg_datagram *d);
	/* Service router: where a SYN for service goes (route.h); false: no route. */
	bool (*router_resolve)(void *ctx, const struct svx_sid *service, u8 *target);
	void (*count)(void *ctx, enum svx_stat stat, u64 n);
	void (*drop)(void *ctx, enum svx_err reason);
};

enum svx_verdict {
	SVX_VERDICT_PASS = 0,	/* not ours: let it go untouched */
	SVX_VERDICT_CONSUMED,	/* translated, answered or dropped: outputs in out */
};

/*
 * What the caller knows of a packet beyond its bytes (svx_engine_process):
 * SVX_IN_VERIFY_CSUM, the transport checksum is complete and must be checked
 * (clear when the kernel left it partial); SVX_IN_LINK_BROADCAST, it came in
 * a link-layer broadcast or multicast frame.
 */
#define SVX_IN_VERIFY_CSUM 0x1u
#define SVX_IN_LINK_BROADCAST 0x2u

/* One IPv4 packet of len bytes; in_flags: SVX_IN_*. */
enum svx_verdict svx_engine_process(const struct svx_engine_roles *roles,
				    const struct svx_engine_ops *ops, void *ctx, const u8 *pkt,
				    size_t len, unsigned int in_flags, u64 now_ms,
				    struct svx_emit *out);

SVX_EXTERN_C_END

#endif /* SVXLAT_ENGINE_H */
