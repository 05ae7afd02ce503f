/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interfaces between the units of svxlat.ko (not shared with user
 * space; the wire and netlink definitions live in include/svxlat/).
 *
 *   main.c     module init/exit, module parameters
 *   net.c      per-namespace state, netfilter hooks, the dispatcher's
 *              callbacks, transmission of emitted packets, the timer work
 *   flows.c    the flow table (rhashtables + time-ordered lists)
 *   routes.c   the service router's table (include/svxlat/route.h)
 *   netlink.c  the generic netlink family (include/svxlat/nl.h)
 *   offload.c  GSO for IP protocol 144
 */
#ifndef SVXLAT_KMOD_H
#define SVXLAT_KMOD_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/netfilter.h>
#include <linux/rhashtable.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>

#include <svxlat/engine.h>
#include <svxlat/flow.h>
#include <svxlat/route.h>
#include <svxlat/stats.h>

#include "compat.h"

/* A translator table row, sorted by key = address << 16 | port. */
struct svx_krow {
	u64 key;
	struct svx_sid service;
	bool strip_opts;
	bool local_only;	/* relay row: LOCAL_OUT only */
};

/* A route table (include/svxlat/route.h): immutable once published (RCU). */
struct svx_kroutes {
	u64 generation;
	bool has_generation;
	struct svx_route_table table;	/* points at the arrays below */
	struct svx_route_entry *entries;
	struct svx_route_target *targets;
	atomic64_t *chosen;		/* per target: SYNs sent to it */
};

/* One namespace's configuration: immutable once published (RCU). */
struct svx_kcfg {
	struct rcu_head rcu;
	struct svx_engine_roles roles;
	bool has_router;
	u8 xlt_router[4];
	struct svx_kroutes *xlt_routes;		/* static services; NULL: none */
	u64 timeout_ms[SVX_TO__COUNT];
	u32 max_flows;
	u32 max_embryonic;
	u16 port_low;
	u16 port_high;
	u64 generation;
	u32 n_rows;
	struct svx_krow *rows;			/* kvmalloc'd */
	u32 n_services;
	struct svx_host_service services[];	/* roles.host_services */
};

struct svx_tcp_key {
	u8 remote_addr[4];
	u8 self_addr[4];
	u16 remote_port;
	u16 self_port;
};

struct svx_peer_key {
	u8 addr[4];
	u32 flow;
};

struct svx_kflow {
	struct svx_flow flow;
	spinlock_t lock;		/* held while the state machine runs */
	bool dead;			/* unhashed; freed after a grace period */
	bool has_peer;
	s8 cls;				/* timeout class list it is on, -1 none */
	u64 queued_ms;			/* last_ms when last moved to its list tail */
	bool on_timer;
	struct svx_tcp_key tcp_key;
	u32 local_key;
	struct svx_peer_key peer_key;
	struct rhash_head tcp_node;
	struct rhash_head local_node;
	struct rhash_head peer_node;
	struct list_head age;		/* in its class list, oldest first */
	struct list_head timer;		/* flows with a pending SAL control packet */
	struct rcu_head rcu;
};

struct svx_pcpu_stats {
	u64 stats[SVX_ST__COUNT];
	u64 drops[SVX_E__COUNT];
};

/*
 * Output routes of recently sent packets, per CPU (read and written with
 * bottom halves off): a connection's packets go to a handful of addresses
 * (its client, the router, an instance), and a route lookup per packet was
 * a tenth of the module's cost per connection. Each slot holds a reference;
 * dst_check() drops a slot the routing tables have since changed under.
 */
#define SVX_RCACHE_SLOTS 16

struct svx_rcache_slot {
	__be32 daddr;
	u8 proto;
	u8 tos;
	struct rtable *rt;
};

struct svx_rcache {
	struct svx_rcache_slot slot[SVX_RCACHE_SLOTS];
};

struct svx_net {
	struct net *net;
	struct mutex cfg_mutex;		/* configuration changes, hook registration */
	struct svx_kcfg __rcu *cfg;
	struct svx_kroutes __rcu *routes;	/* replaced under cfg_mutex */
	bool hooks_registered;
	struct nf_hook_ops hook_ops[2];
	struct nf_hook_ops gso_fix_ops;	/* every namespace: forwarded SAL GSO */
	struct svx_pcpu_stats __percpu *stats;
	struct svx_rcache __percpu *rcache;

	/* flow table (flows.c) */
	spinlock_t lock;		/* lists, counts, port bitmap; after a flow's lock */
	bool tables_ready;
	struct rhashtable by_tcp;
	struct rhashtable by_local;
	struct rhashtable by_peer;
	struct list_head classes[SVX_TO__COUNT];
	u32 class_count[SVX_TO__COUNT];
	struct list_head timers;
	u32 count;
	unsigned long *ports_used;	/* 65536 bits */

	/* timer work: retransmissions and expiry */
	struct delayed_work work;
	bool work_stop;
	u8 *work_arena;
	struct svx_emit_pkt *work_pkts;
};

#define SVX_ARENA_SIZE (192 * 1024)
#define SVX_ARENA_PKTS 160

/* main.c */
extern unsigned int svx_flow_cap;
extern bool svx_header_plans;

/* net.c */
struct svx_net *svx_net_get(struct net *net);
void svx_count(struct svx_net *sn, enum svx_stat stat, u64 n);
void svx_count_drop(struct svx_net *sn, enum svx_err reason);
void svx_stats_sum(struct svx_net *sn, u64 *stats, u64 *drops);
int svx_net_configure(struct svx_net *sn, struct svx_kcfg *cfg);
void svx_net_unconfigure(struct svx_net *sn);
void svx_kcfg_free(struct svx_kcfg *cfg);
/* Sends emitted packets (consumes e's contents). BH must be disabled. */
void svx_xmit_emitted(struct svx_net *sn, struct svx_emit *e, struct sk_buff **spare);
u64 svx_now_ms(void);
int svx_net_init_module(void);
void svx_net_exit_module(void);

/* flows.c */
int svx_flows_cache_init(void);
void svx_flows_cache_exit(void);
int svx_flows_init(struct svx_net *sn);
void svx_flows_destroy(struct svx_net *sn);
struct svx_flow *svx_flows_find_tcp(struct svx_net *sn, const struct svx_tcp_key *key);
struct svx_flow *svx_flows_find_local(struct svx_net *sn, u32 local_flow);
struct svx_flow *svx_flows_find_peer(struct svx_net *sn, const struct svx_peer_key *key);
struct svx_flow *svx_flows_admit(struct svx_net *sn, const struct svx_kcfg *cfg,
				 struct svx_emit *out);
bool svx_flows_insert(struct svx_net *sn, struct svx_flow *f, const u8 *peer_addr,
		      u32 peer_flow);
void svx_flows_remove(struct svx_net *sn, struct svx_flow *f);
void svx_flows_done(struct svx_net *sn, struct svx_flow *f);
u32 svx_flows_new_local(struct svx_net *sn);
bool svx_flows_new_port(struct svx_net *sn, const struct svx_kcfg *cfg, u16 *port);
/* Timer work body: retransmissions, then expiry. Returns true when it
 * stopped early because out filled up (call again after sending).
 */
bool svx_flows_tick(struct svx_net *sn, const struct svx_kcfg *cfg, u64 now_ms,
		    struct svx_emit *out);
/* Resets every flow into out, in batches: true while flows remain. */
bool svx_flows_abort_some(struct svx_net *sn, const struct svx_kcfg *cfg, struct svx_emit *out);
u32 svx_flows_count(struct svx_net *sn);
/* Copies up to max flows starting at index skip (a snapshot for dumps). */
u32 svx_flows_snapshot(struct svx_net *sn, u32 skip, struct svx_flow *dst, u32 max);

/* routes.c */
struct svx_kroutes *svx_routes_alloc(u32 n_entries, u32 n_targets);
void svx_routes_free(struct svx_kroutes *r);
void svx_routes_replace(struct svx_net *sn, struct svx_kroutes *next);
void svx_routes_carry_counts(const struct svx_kroutes *old, struct svx_kroutes *next);
/* Resolves id in r (NULL: no table) and counts the choice. */
bool svx_routes_resolve(const struct svx_kroutes *r, const struct svx_sid *id, u8 *target);

/* netlink.c */
int svx_netlink_init(void);
void svx_netlink_exit(void);

/* offload.c: GSO/GRO for IP protocol 144 (SAL + TCP). */
int svx_offload_init(void);
void svx_offload_exit(void);

#endif /* SVXLAT_KMOD_H */
