/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The service router's decisions (docs/serval-protocol.md sections 11 and
 * 12, docs/router.md), shared by both engines:
 *
 *   svx_route_pick()      among an entry's targets, the live ones of the
 *                         highest priority, one of them with probability
 *                         weight / sum of weights;
 *   svx_route_lookup()    longest-prefix match in an immutable table sorted
 *                         by (bits descending, prefix ascending): one binary
 *                         search per distinct prefix length;
 *   svx_route_resolve()   both: the longest match decides, even when it has
 *                         no live target (section 11.2);
 *   svx_router_forward()  the forwarding rewrite of a resolved packet
 *                         (SOURCE appended, destination, TTL, checksums).
 *
 * User space keeps its mutable, per-length hashed index (router/service_table.h)
 * and calls svx_route_pick() on an entry's targets; the kernel module holds an
 * immutable table that svxlatd replaces as a whole over netlink (RCU) and
 * calls svx_route_resolve(). Time is the caller's clock in the caller's
 * units (nanoseconds in svxlatd, milliseconds in the module).
 */
#ifndef SVXLAT_ROUTE_H
#define SVXLAT_ROUTE_H

#include "types.h"
#include "err.h"
#include "pkt.h"
#include "sid.h"

SVX_EXTERN_C_BEGIN

struct svx_route_target {
	u8 addr[4];
	u32 priority;		/* the highest live priority group is chosen from */
	u32 weight;		/* >= 1 */
	u64 expires;		/* live while now < expires; 0: never expires */
};

static inline bool svx_route_target_live(const struct svx_route_target *t, u64 now)
{
	return t->expires == 0 || now < t->expires;
}

/*
 * Index of the chosen target among t[0..n), or -1 when none is live.
 * random is a uniform 64-bit value: the same value gives the same choice.
 */
int svx_route_pick(const struct svx_route_target *t, u32 n, u64 now, u64 random);

struct svx_route_entry {
	struct svx_sid prefix;	/* masked to bits */
	u16 bits;		/* 0..256 */
	u32 first;		/* targets[first .. first + n_targets) */
	u32 n_targets;		/* >= 1 */
};

struct svx_route_table {
	const struct svx_route_entry *entries;	/* sorted: bits desc, prefix asc */
	u32 n_entries;
	const struct svx_route_target *targets;
	u32 n_targets;
};

/* Table order: longer prefixes first, then by ID. */
int svx_route_entry_cmp(const struct svx_route_entry *a, const struct svx_route_entry *b);

/*
 * Whether t is a table the lookups can trust: entries strictly in table
 * order (so unique), prefixes masked, bits <= 256, each entry's targets in
 * range and non-empty, weights >= 1. SVX_OK or SVX_E_INVAL.
 */
enum svx_err svx_route_table_check(const struct svx_route_table *t);

/* The entry for exactly (prefix, bits), or NULL. */
const struct svx_route_entry *svx_route_find(const struct svx_route_table *t,
					     const struct svx_sid *prefix, u16 bits);

/* The entry with the longest prefix matching id, or NULL. */
const struct svx_route_entry *svx_route_lookup(const struct svx_route_table *t,
					       const struct svx_sid *id);

enum svx_route_status {
	SVX_ROUTE_OK = 0,		/* target is the chosen address */
	SVX_ROUTE_NO_ENTRY,		/* no prefix matches */
	SVX_ROUTE_NO_LIVE_TARGET,	/* the longest match has no live target */
};

enum svx_route_status svx_route_resolve(const struct svx_route_table *t,
					const struct svx_sid *id, u64 now, u64 random,
					u8 target[4]);

/*
 * A registration (section 11): an unconnected SAL datagram (no control
 * extension, UDP) whose destination SERVICE is the router's own ID.
 */
bool svx_router_is_registration(const u8 *pkt, const struct svx_pkt_view *v,
				const struct svx_sid *router_id);

/*
 * Rewrites the parsed packet pkt (cap bytes of room, at least v->ip_len; it
 * grows by 12 bytes when it has no SOURCE, 4 otherwise) for target (section
 * 12): appends SOURCE (orig_src = the IP source, hop = the IP destination,
 * the router's own address), sets the IP destination, decrements the TTL,
 * recomputes the TCP/UDP checksum, the outer UDP header of a UDP-encapsulated
 * packet, the IP total length and the IP checksum. The IP source, ID and DF
 * are left alone. Returns the new length and updates v, or -(enum svx_err)
 * leaving pkt unchanged: SVX_E_TTL (TTL <= 1), SVX_E_SOURCE_LOOP (the router
 * is already a hop), SVX_E_NOSPACE, SVX_E_EXT_LEN, SVX_E_IP_TOT_LEN.
 */
int svx_router_forward(u8 *pkt, size_t cap, struct svx_pkt_view *v, const u8 target[4]);

SVX_EXTERN_C_END

#endif /* SVXLAT_ROUTE_H */
