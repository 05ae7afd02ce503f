/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Engine events counted besides the drop reasons (enum svx_err). Both
 * engines (NFQUEUE workers and the kernel module) count the same ids, the
 * kernel reports them over generic netlink by id, and `svxlat counters`
 * prints svx_stat_name() and svx_stat_desc() beside each, whichever engine
 * runs. Append only: the ids are part of the netlink protocol.
 */
#ifndef SVXLAT_STATS_H
#define SVXLAT_STATS_H

#include "types.h"

SVX_EXTERN_C_BEGIN

enum svx_stat {
	SVX_ST_PACKETS = 0,
	SVX_ST_NOT_OURS,
	SVX_ST_TCP_TO_SAL,
	SVX_ST_SAL_TO_TCP,
	SVX_ST_EMITTED,
	SVX_ST_FLOWS_CREATED,
	SVX_ST_FLOWS_CLOSED,
	SVX_ST_FLOWS_EXPIRED,
	SVX_ST_EMBRYONIC_EVICTED,
	SVX_ST_TABLE_FULL,
	SVX_ST_NO_FLOW_PORT,
	SVX_ST_TCP_RESET_REPLIES,
	SVX_ST_PASSIVE_RESETS,
	SVX_ST_ROUTER_FORWARDED,
	SVX_ST_REGISTRATIONS,
	SVX_ST_REGISTRATIONS_REFUSED,
	SVX_ST_EMIT_OVERFLOW,
	/* kernel engine only */
	SVX_ST_XMIT_ERRORS,
	SVX_ST_NL_REJECTED,
	SVX_ST_GSO_MALFORMED,
	SVX_ST__COUNT,
};

const char *svx_stat_name(enum svx_stat stat);
const char *svx_stat_desc(enum svx_stat stat);

SVX_EXTERN_C_END

#endif /* SVXLAT_STATS_H */
