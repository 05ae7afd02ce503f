// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "../stats.h"

struct svx_stat_text {
	const char *name;
	const char *desc;
};

static const struct svx_stat_text svx_stat_texts[SVX_ST__COUNT] = {
	[SVX_ST_PACKETS] = { "packets", "packets handed to the engine by the kernel" },
	[SVX_ST_NOT_OURS] = { "not_ours", "packets no role owns, accepted untouched" },
	[SVX_ST_TCP_TO_SAL] = { "tcp_to_sal", "packets from the plain TCP side translated to SAL" },
	[SVX_ST_SAL_TO_TCP] = { "sal_to_tcp", "packets from the Serval side translated to plain TCP" },
	[SVX_ST_EMITTED] = { "emitted",
			     "packets the engine sent (translations, segments, originated control)" },
	[SVX_ST_FLOWS_CREATED] = { "flows_created", "flows created" },
	[SVX_ST_FLOWS_CLOSED] = { "flows_closed",
				  "flows that reached time-wait (orderly close) or closed (reset)" },
	[SVX_ST_FLOWS_EXPIRED] = { "flows_expired", "flows removed by their state's timeout" },
	[SVX_ST_EMBRYONIC_EVICTED] = { "embryonic_evicted",
				       "oldest half-open flow evicted to admit a new SYN (SYN flood guard)" },
	[SVX_ST_TABLE_FULL] = { "table_full", "new flows refused because the table holds max-flows flows" },
	[SVX_ST_NO_FLOW_PORT] = { "no_flow_port", "host agent SYNs refused: no free per-flow port" },
	[SVX_ST_TCP_RESET_REPLIES] = { "tcp_reset_replies", "TCP RSTs sent for segments that match no flow" },
	[SVX_ST_PASSIVE_RESETS] = { "passive_resets",
				    "SAL passive RSTs sent for SAL packets that match no flow" },
	[SVX_ST_ROUTER_FORWARDED] = { "router_forwarded",
				      "SYNs and datagrams the service router forwarded to an instance" },
	[SVX_ST_REGISTRATIONS] = { "registrations",
				   "service registrations applied (register, refresh, move, unregister)" },
	[SVX_ST_REGISTRATIONS_REFUSED] = { "registrations_refused",
					   "registrations the service table refused (default ID, full)" },
	[SVX_ST_EMIT_OVERFLOW] = { "emit_overflow",
				   "emitted packets lost because the output buffer was full" },
	[SVX_ST_XMIT_ERRORS] = { "xmit_errors",
				 "kernel engine: emitted packets that could not be routed or allocated" },
	[SVX_ST_NL_REJECTED] = { "nl_rejected",
				 "kernel engine: netlink requests refused (bad header, attribute or value)" },
	[SVX_ST_GSO_MALFORMED] = { "gso_malformed",
				   "kernel engine: forwarded SAL super-packets dropped, SAL or TCP header cut short" },
};

const char *svx_stat_name(enum svx_stat stat)
{
	if ((unsigned int)stat >= SVX_ST__COUNT)
		return "unknown";
	return svx_stat_texts[stat].name;
}

const char *svx_stat_desc(enum svx_stat stat)
{
	if ((unsigned int)stat >= SVX_ST__COUNT)
		return "unknown counter";
	return svx_stat_texts[stat].desc;
}
