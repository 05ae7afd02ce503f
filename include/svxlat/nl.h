/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The generic netlink protocol between svxlatd and svxlat.ko. Every request
 * and reply starts with struct svx_nl_hdr (the family's user header) after
 * the genetlink header; the module refuses a wrong magic or version with
 * -EPROTO and counts it (SVX_ST_NL_REJECTED). All multi-byte integers are in
 * host order (netlink convention) except addresses and service IDs, which
 * are byte strings in wire order. Append only; bump SVX_NL_VERSION on any
 * incompatible change.
 *
 * Lists (translator rows, host services) are repeated top-level nests,
 * SVX_NLA_ROW and SVX_NLA_SERVICE, not wrapped in one list attribute: an
 * attribute cannot exceed 64 KB, a message can (65536 rows are ~4 MB).
 *
 * The service router's table is replaced as a whole by SVX_NL_CMD_SET_ROUTES
 * (ROUTE nests in any order, each with 1..SVX_NL_MAX_TARGETS_PER_ROUTE
 * TARGET nests): validated whole, sorted, swapped in under RCU, so a SYN is
 * resolved against the old table or the new one. It is kept across
 * SET_CONFIG and dropped by CLEAR_CONFIG. Targets carry no expiry: svxlatd
 * expires registrations and pushes the table whenever what it resolves
 * changes. Per-target "chosen" counts survive a push (same prefix, bits
 * and address) and are read with the GET_ROUTES dump.
 *
 * The translator's static services ([translator] service) are a table of
 * the same shape inside SET_CONFIG (SVX_NLA_XLT_ROUTE nests, same bounds),
 * so they change atomically with the rest of the configuration. For each
 * SAL SYN the translator sends, a static service with a live target is
 * tried first, then XLT_ROUTER, as in the user-space engine.
 *
 * Configuration is replaced as a whole by one SVX_NL_CMD_SET_CONFIG (roles,
 * translator rows, host services, timeouts, limits): the module validates
 * the entire message first and only then swaps it in under RCU, so packets
 * see the old configuration or the new one, never a mix. Live flows survive
 * a reload (a removed row stops new flows only), as in the user-space engine.
 */
#ifndef SVXLAT_NL_H
#define SVXLAT_NL_H

#include "types.h"

#define SVX_NL_FAMILY "svxlat"
#define SVX_NL_MAGIC 0x53564c4bu /* "SVLK" */
#define SVX_NL_VERSION 1

struct svx_nl_hdr {
	u32 magic;
	u16 version;
	u16 reserved; /* zero */
};

enum svx_nl_cmd {
	SVX_NL_CMD_UNSPEC = 0,
	SVX_NL_CMD_GET_INFO,	/* -> VERSION, FLOW_SIZE, CONFIGURED, FLOW_COUNT */
	SVX_NL_CMD_SET_CONFIG,	/* roles, rows, services, limits; replaces all */
	SVX_NL_CMD_CLEAR_CONFIG,/* unconfigure this namespace; flows are reset */
	SVX_NL_CMD_GET_STATS,	/* -> STATS, DROPS */
	SVX_NL_CMD_GET_FLOWS,	/* dump: one FLOW per message */
	SVX_NL_CMD_SET_ROUTES,	/* the service router's table; replaces all */
	SVX_NL_CMD_GET_ROUTES,	/* dump: one ROUTE per message, with TGT_CHOSEN */
	SVX_NL_CMD__COUNT,
};

enum svx_nl_attr {
	SVX_NLA_UNSPEC = 0,
	/* GET_INFO reply */
	SVX_NLA_VERSION,	/* u32 SVX_NL_VERSION */
	SVX_NLA_FLOW_SIZE,	/* u32 sizeof(struct svx_flow) */
	SVX_NLA_CONFIGURED,	/* u8 */
	SVX_NLA_FLOW_COUNT,	/* u32 */
	/* SET_CONFIG: flow engine (struct svx_flow_cfg and the table limits) */
	SVX_NLA_SAL_MTU,	/* u16, 576..65535 */
	SVX_NLA_TCP_MTU,	/* u16, 576..65535 */
	SVX_NLA_TTL,		/* u8, 1..255 */
	SVX_NLA_MAX_RETRANS,	/* u8 */
	SVX_NLA_RTO_INITIAL_MS,	/* u32, 1.. */
	SVX_NLA_RTO_MAX_MS,	/* u32, >= RTO_INITIAL_MS */
	SVX_NLA_TIMEOUTS_MS,	/* u32[SVX_TO__COUNT], each >= 1 */
	SVX_NLA_MAX_FLOWS,	/* u32, 1..SVX_NL_MAX_FLOWS */
	SVX_NLA_MAX_EMBRYONIC,	/* u32, 1..MAX_FLOWS */
	/* SET_CONFIG: translator role (present = role on) */
	SVX_NLA_XLT_ADDR,	/* 4 bytes: Serval-side source address */
	SVX_NLA_XLT_ROUTER,	/* 4 bytes: where SAL SYNs go */
	SVX_NLA_XLT_ROWS,	/* reserved: rows are top-level SVX_NLA_ROW (see below) */
	/* SET_CONFIG: host agent role (present = role on) */
	SVX_NLA_HOST_ADDR,	/* 4 bytes */
	SVX_NLA_HOST_PORT_LOW,	/* u16: per-flow port range */
	SVX_NLA_HOST_PORT_HIGH,	/* u16 */
	SVX_NLA_HOST_SERVICES,	/* reserved: services are top-level SVX_NLA_SERVICE */
	/* GET_STATS reply */
	SVX_NLA_STATS,		/* u64[] indexed by enum svx_stat (may be shorter/longer) */
	SVX_NLA_DROPS,		/* u64[] indexed by enum svx_err */
	/* GET_FLOWS dump */
	SVX_NLA_FLOW,		/* struct svx_flow, FLOW_SIZE bytes */
	/* nested */
	SVX_NLA_ROW,		/* nest: ROW_ADDR, ROW_PORT, ROW_SERVICE, ROW_STRIP */
	SVX_NLA_ROW_ADDR,	/* 4 bytes: public address */
	SVX_NLA_ROW_PORT,	/* u16: public port, nonzero */
	SVX_NLA_ROW_SERVICE,	/* 32 bytes: service ID */
	SVX_NLA_ROW_STRIP,	/* u8: strip SACK/timestamps from SYNs */
	SVX_NLA_SERVICE,	/* nest: SVC_PREFIX, SVC_BITS, SVC_PORT */
	SVX_NLA_SVC_PREFIX,	/* 32 bytes */
	SVX_NLA_SVC_BITS,	/* u16, 0..256 */
	SVX_NLA_SVC_PORT,	/* u16, nonzero */
	SVX_NLA_CONFIG_GEN,	/* u64: the daemon's configuration generation (echoed in GET_INFO) */
	SVX_NLA_ROW_LOCAL_ONLY,	/* u8, in a ROW: only this host's own connections (LOCAL_OUT) are
				 * translated; others reach a local listener (the stream relay) */
	/* SET_CONFIG: service router role (present = role on; both or neither) */
	SVX_NLA_ROUTER_ADDR,	/* 4 bytes: SAL SYNs to it are resolved and forwarded */
	SVX_NLA_ROUTER_ID,	/* 32 bytes: registrations to it pass to svxlatd */
	/* SET_ROUTES / GET_ROUTES; ROUTES_GEN and ROUTE_COUNT also in GET_INFO */
	SVX_NLA_ROUTES_GEN,	/* u64: the daemon's table generation */
	SVX_NLA_ROUTE_COUNT,	/* u32: entries in the module's table */
	SVX_NLA_ROUTE,		/* nest: ROUTE_PREFIX, ROUTE_BITS, ROUTE_TARGET... */
	SVX_NLA_ROUTE_PREFIX,	/* 32 bytes, masked to ROUTE_BITS */
	SVX_NLA_ROUTE_BITS,	/* u16, 0..256 */
	SVX_NLA_ROUTE_TARGET,	/* nest in a ROUTE: TGT_ADDR, TGT_PRIORITY, TGT_WEIGHT */
	SVX_NLA_TGT_ADDR,	/* 4 bytes, unique within its ROUTE */
	SVX_NLA_TGT_PRIORITY,	/* u32 */
	SVX_NLA_TGT_WEIGHT,	/* u32, >= 1 */
	SVX_NLA_TGT_CHOSEN,	/* u64, GET_ROUTES only: SYNs forwarded to it */
	/* SET_CONFIG: the translator's static services, as ROUTE nests */
	SVX_NLA_XLT_ROUTE,	/* nest: ROUTE_PREFIX, ROUTE_BITS, ROUTE_TARGET... */
	SVX_NLA_XLT_ROUTE_COUNT,/* u32, GET_INFO: entries of that table */
	SVX_NLA_ROUTES_TABLE,	/* u8 enum svx_nl_routes, GET_ROUTES: which table; absent: ROUTER */
	/* SET_CONFIG, optional: struct svx_flow_cfg's fin_ack_delay_ms, 0..SVX_FIN_ACK_DELAY_MAX_MS;
	 * absent: 0 (every SAL ACK at once)
	 */
	SVX_NLA_FIN_ACK_DELAY_MS,	/* u32 */
	SVX_NLA__COUNT,
};
#define SVX_NLA_MAX (SVX_NLA__COUNT - 1)

/* The route tables GET_ROUTES dumps. */
enum svx_nl_routes {
	SVX_NL_ROUTES_ROUTER = 0,	/* the service router's (SET_ROUTES) */
	SVX_NL_ROUTES_XLT_STATIC,	/* the translator's static services (SET_CONFIG) */
	SVX_NL_ROUTES__COUNT,
};

/* Bounds the module enforces (and the daemon checks before sending). */
#define SVX_NL_MAX_ROWS 65536
#define SVX_NL_MAX_SERVICES 1024
#define SVX_NL_MAX_FLOWS (4u << 20)
#define SVX_NL_MAX_ROUTES 65536
#define SVX_NL_MAX_ROUTE_TARGETS 262144	/* over all routes */
#define SVX_NL_MAX_TARGETS_PER_ROUTE 1024

#endif /* SVXLAT_NL_H */
