// SPDX-License-Identifier: GPL-2.0
/*
 * Per-namespace state and the packet path: netfilter hooks in PRE_ROUTING
 * and LOCAL_OUT hand IPv4 TCP, SAL and ICMP packets to the shared
 * dispatcher (include/svxlat/engine.h) and map its one verdict to
 * NF_ACCEPT (not ours), NF_DROP (refused, counted) or NF_STOLEN
 * (translated: the emitted packets replace it). Hooks exist only in
 * namespaces that have a configuration.
 */
#include <linux/bsearch.h>
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/ip.h>
#include <linux/jiffies.h>
#include <linux/netfilter_ipv4.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <net/dst.h>
#include <net/ip.h>
#include <net/netns/generic.h>
#include <net/route.h>
#include <net/tcp.h>

#include "svxlat_kmod.h"

/* After defragmentation (-400), before raw (-300) and conntrack (-200):
 * translated packets never create conntrack entries.
 */
#define SVX_HOOK_PRIORITY (NF_IP_PRI_CONNTRACK_DEFRAG + 50)
#define SVX_TICK_MS 100
#define SVX_MAX_PKT 65535
/* Longest IPv4 + SAL + TCP header: 60 + 255 * 4 + 60. */
#define SVX_HDR_COPY 1140u

static unsigned int svx_net_id __read_mostly;

/* Per-CPU scratch: the packet as the core sees it, and what it emits. */
struct svx_pcpu_buf {
	u8 *in;
	u8 *arena;
	struct svx_emit_pkt *pkts;
};

static struct svx_pcpu_buf __percpu *svx_bufs;

struct svx_hook_ctx {
	struct svx_net *sn;
	const struct svx_kcfg *cfg;
	bool local_out;		/* LOCAL_OUT: this host's own packet */
	bool dropped;
};

struct svx_net *svx_net_get(struct net *net)
{
	return net_generic(net, svx_net_id);
}

/* CLOCK_MONOTONIC milliseconds, the clock svxlatd reads flow ages against. */
u64 svx_now_ms(void)
{
	return div_u64(ktime_get_coarse_ns(), NSEC_PER_MSEC);
}

void svx_count(struct svx_net *sn, enum svx_stat stat, u64 n)
{
	if (n && (unsigned int)stat < SVX_ST__COUNT)
		this_cpu_add(sn->stats->stats[stat], n);
}

void svx_count_drop(struct svx_net *sn, enum svx_err reason)
{
	if ((unsigned int)reason < SVX_E__COUNT)
		this_cpu_inc(sn->stats->drops[reason]);
}

void svx_stats_sum(struct svx_net *sn, u64 *stats, u64 *drops)
{
	int cpu, i;

	memset(stats, 0, sizeof(u64) * SVX_ST__COUNT);
	memset(drops, 0, sizeof(u64) * SVX_E__COUNT);
	for_each_possible_cpu(cpu) {
		const struct svx_pcpu_stats *s = per_cpu_ptr(sn->stats, cpu);

		for (i = 0; i < SVX_ST__COUNT; i++)
			stats[i] += READ_ONCE(s->stats[i]);
		for (i = 0; i < SVX_E__COUNT; i++)
			drops[i] += READ_ONCE(s->drops[i]);
	}
}

/* ------------------------------------------------- dispatcher callbacks */

static struct svx_hook_ctx *svx_ctx(void *ctx)
{
	return ctx;
}

static struct svx_flow *svx_op_find_tcp(void *ctx, const u8 *remote_addr, const u8 *self_addr,
					u16 remote_port, u16 self_port)
{
	struct svx_tcp_key key;

	memcpy(key.remote_addr, remote_addr, 4);
	memcpy(key.self_addr, self_addr, 4);
	key.remote_port = remote_port;
	key.self_port = self_port;
	return svx_flows_find_tcp(svx_ctx(ctx)->sn, &key);
}

static struct svx_flow *svx_op_find_local(void *ctx, u32 local_flow)
{
	return svx_flows_find_local(svx_ctx(ctx)->sn, local_flow);
}

static struct svx_flow *svx_op_find_peer(void *ctx, const u8 *peer_addr, u32 peer_flow)
{
	struct svx_peer_key key;

	memcpy(key.addr, peer_addr, 4);
	key.flow = peer_flow;
	return svx_flows_find_peer(svx_ctx(ctx)->sn, &key);
}

static struct svx_flow *svx_op_admit(void *ctx, struct svx_emit *out)
{
	return svx_flows_admit(svx_ctx(ctx)->sn, svx_ctx(ctx)->cfg, out);
}

static bool svx_op_insert(void *ctx, struct svx_flow *f, const u8 *peer_addr, u32 peer_flow)
{
	return svx_flows_insert(svx_ctx(ctx)->sn, f, peer_addr, peer_flow);
}

static void svx_op_remove(void *ctx, struct svx_flow *f)
{
	svx_flows_remove(svx_ctx(ctx)->sn, f);
}

static void svx_op_done(void *ctx, struct svx_flow *f)
{
	svx_flows_done(svx_ctx(ctx)->sn, f);
}

static u32 svx_op_new_local_flow(void *ctx)
{
	return svx_flows_new_local(svx_ctx(ctx)->sn);
}

static bool svx_op_new_flow_port(void *ctx, u16 *port)
{
	return svx_flows_new_port(svx_ctx(ctx)->sn, svx_ctx(ctx)->cfg, port);
}

/* Nonces and ISNs: the batched per-CPU generator, not a CRNG call each. */
static void svx_op_random(void *ctx, void *buf, u32 len)
{
	u8 *p = buf;
	u64 v;

	for (; len >= sizeof(v); len -= sizeof(v), p += sizeof(v)) {
		v = get_random_u64();
		memcpy(p, &v, sizeof(v));
	}
	if (len) {
		v = get_random_u64();
		memcpy(p, &v, len);
	}
}

static int svx_row_cmp(const void *key, const void *elt)
{
	u64 k = *(const u64 *)key, e = ((const struct svx_krow *)elt)->key;

	return k < e ? -1 : k > e ? 1 : 0;
}

static bool svx_op_xlt_row(void *ctx, const u8 *addr, u16 port, struct svx_xlt_match *m)
{
	const struct svx_kcfg *cfg = svx_ctx(ctx)->cfg;
	u64 key = (u64)svx_get_be32(addr) << 16 | port;
	const struct svx_krow *row;

	row = bsearch(&key, cfg->rows, cfg->n_rows, sizeof(*row), svx_row_cmp);
	if (!row || (row->local_only && !svx_ctx(ctx)->local_out))
		return false;
	m->service = row->service;
	m->strip_opts = row->strip_opts;
	return true;
}

static bool svx_op_xlt_sal_dst(void *ctx, const struct svx_sid *service, u8 *target)
{
	const struct svx_kcfg *cfg = svx_ctx(ctx)->cfg;

	/* A static service with a live target first, then the router. */
	if (svx_routes_resolve(cfg->xlt_routes, service, target))
		return true;
	if (!cfg->has_router)
		return false;
	memcpy(target, cfg->xlt_router, 4);
	return true;
}

static bool svx_op_router_resolve(void *ctx, const struct svx_sid *service, u8 *target)
{
	return svx_routes_resolve(rcu_dereference(svx_ctx(ctx)->sn->routes), service, target);
}

static void svx_op_count(void *ctx, enum svx_stat stat, u64 n)
{
	svx_count(svx_ctx(ctx)->sn, stat, n);
}

static void svx_op_drop(void *ctx, enum svx_err reason)
{
	svx_count_drop(svx_ctx(ctx)->sn, reason);
	svx_ctx(ctx)->dropped = true;
}

static const struct svx_engine_ops svx_kops = {
	.find_tcp = svx_op_find_tcp,
	.find_local = svx_op_find_local,
	.find_peer = svx_op_find_peer,
	.admit = svx_op_admit,
	.insert = svx_op_insert,
	.remove = svx_op_remove,
	.done = svx_op_done,
	.new_local_flow = svx_op_new_local_flow,
	.new_flow_port = svx_op_new_flow_port,
	.random = svx_op_random,
	.xlt_row = svx_op_xlt_row,
	.xlt_sal_dst = svx_op_xlt_sal_dst,
	.router_register = NULL,	/* registrations pass to svxlatd (NFQUEUE) */
	.router_resolve = svx_op_router_resolve,
	.count = svx_op_count,
	.drop = svx_op_drop,
};

/* ---------------------------------------------------------------- xmit */

/*
 * The output route for a packet's IPv4 header: from this CPU's cache while
 * the routing tables are unchanged, else looked up and cached. The cache
 * holds the only reference; the caller attaches the route with
 * skb_dst_set_noref(), as the input path does with its cached routes: bottom
 * halves are off (hook and work), and whatever keeps the packet past that
 * (a qdisc, the neighbour queue, loopback) takes its own reference with
 * skb_dst_force() before this CPU can replace the slot. Two atomic
 * operations per packet fewer than a reference per packet.
 */
static struct rtable *svx_route(struct svx_net *sn, const struct iphdr *iph)
{
	u8 tos = RT_TOS(iph->tos);
	struct svx_rcache_slot *s;
	struct flowi4 fl4 = {
		.daddr = iph->daddr,
		.flowi4_proto = iph->protocol,
		.flowi4_tos = tos,
	};
	struct rtable *rt;

	s = &this_cpu_ptr(sn->rcache)->slot[hash_32((__force u32)iph->daddr ^ iph->protocol,
						     ilog2(SVX_RCACHE_SLOTS))];
	if (s->rt && s->daddr == iph->daddr && s->proto == iph->protocol && s->tos == tos) {
		if (dst_check(&s->rt->dst, 0))
			return s->rt;
		ip_rt_put(s->rt);
		s->rt = NULL;
	}
	rt = ip_route_output_key(sn->net, &fl4);
	if (IS_ERR(rt))
		return rt;
	if (s->rt)
		ip_rt_put(s->rt);
	s->rt = rt;
	s->daddr = iph->daddr;
	s->proto = iph->protocol;
	s->tos = tos;
	return rt;
}

/* Drops every cached route; no hook, work or xmit may run meanwhile. */
static void svx_rcache_flush(struct svx_net *sn)
{
	int cpu, i;

	for_each_possible_cpu(cpu) {
		struct svx_rcache *c = per_cpu_ptr(sn->rcache, cpu);

		for (i = 0; i < SVX_RCACHE_SLOTS; i++) {
			if (c->slot[i].rt)
				ip_rt_put(c->slot[i].rt);
			c->slot[i].rt = NULL;
		}
	}
}

/*
 * An skb with room bytes of headroom for an emitted packet of len bytes.
 * *spare, when spare and it are set, is the packet the core consumed in
 * answering or replacing it (a handshake or control packet): its buffer
 * serves if nobody else holds it and it is linear and large enough, which
 * saves an allocation per such packet. It is cleared of everything the
 * received packet carried, to the state of a new skb: skb_scrub_packet()
 * as for a packet crossing namespaces, and what that leaves (owner, hash,
 * GSO, VLAN tag, control block, checksum state).
 */
static struct sk_buff *svx_emit_skb(struct sk_buff **spare, unsigned int room, u32 len)
{
	struct sk_buff *skb = spare ? *spare : NULL;

	if (skb && !skb_shared(skb) && !skb_cloned(skb) && !skb_is_nonlinear(skb) &&
	    room + len <= skb_end_offset(skb)) {
		*spare = NULL;
		skb_orphan(skb);
		skb_scrub_packet(skb, true);
		skb_clear_hash(skb);
		skb_gso_reset(skb);
		__vlan_hwaccel_clear_tag(skb);
		skb_reset_redirect(skb);
		memset(skb->cb, 0, sizeof(skb->cb));
		skb->priority = 0;
		skb->ip_summed = CHECKSUM_NONE;
		skb->csum_valid = 0;	/* else a receiver would skip verifying */
		skb->csum_complete_sw = 0;
		skb->csum_level = 0;
		skb->encapsulation = 0;
		skb->data = skb->head;
		skb->len = 0;
		skb_reset_tail_pointer(skb);
	} else {
		skb = alloc_skb(room + len, GFP_ATOMIC);
		if (!skb)
			return NULL;
	}
	skb_reserve(skb, room);
	return skb;
}

/*
 * Sends one emitted IPv4 packet (complete headers and checksums) on the
 * route to its destination, in *spare's buffer if it can (svx_emit_skb).
 * dst_output() rather than ip_local_out(): the packet must not run through
 * LOCAL_OUT (and this hook) again; packets for a local address loop back
 * through PRE_ROUTING like any other.
 */
static void svx_xmit_one(struct svx_net *sn, const u8 *data, u32 len, struct sk_buff **spare)
{
	const struct iphdr *iph = (const struct iphdr *)data;
	struct sk_buff *skb;
	struct rtable *rt;

	rt = svx_route(sn, iph);
	if (IS_ERR(rt)) {
		svx_count(sn, SVX_ST_XMIT_ERRORS, 1);
		return;
	}
	skb = svx_emit_skb(spare, LL_RESERVED_SPACE(rt->dst.dev), len);
	if (!skb) {
		svx_count(sn, SVX_ST_XMIT_ERRORS, 1);
		return;
	}
	skb_put_data(skb, data, len);
	skb_reset_network_header(skb);
	skb_set_transport_header(skb, iph->ihl * 4);
	skb->protocol = htons(ETH_P_IP);
	skb_dst_set_noref(skb, &rt->dst);
	dst_output(sn->net, NULL, skb);
}

/* What became of a planned packet. */
enum svx_planned {
	SVX_PLANNED_SENT,	/* sent (or dropped, counted): skb consumed */
	SVX_PLANNED_DELIVER,	/* rewritten for this host: the hook accepts it */
};

/*
 * Applies the core's header plan to the packet itself: its old headers
 * (everything before the payload) are replaced by the planned ones, the TCP
 * checksum is left partial over the new pseudo-header and a payload larger
 * than one packet becomes a GSO packet of plan->mss (SAL: segmented by our
 * protocol-144 offload). The payload is never copied.
 *
 * In PRE_ROUTING, a packet now addressed to this host from a remote source
 * is left to continue in place (SVX_PLANNED_DELIVER: the input route and
 * local delivery follow the hook, as after DNAT) instead of going out and
 * back through loopback, which would run it through the input path and
 * this hook a second time.
 * Otherwise it is routed and sent; the skb is consumed.
 */
static enum svx_planned svx_xmit_planned(struct svx_net *sn, struct sk_buff *skb,
					 const struct svx_emit *e, bool pre_routing)
{
	const struct svx_emit_plan *plan = &e->plan;
	int delta = (int)plan->hdr_len - (int)plan->payload_off;
	struct skb_shared_info *shinfo;
	struct iphdr *iph;
	struct tcphdr *th;
	struct rtable *rt;
	__be32 in_saddr;

	if (skb->len != plan->payload_off + plan->payload_len ||
	    !pskb_may_pull(skb, plan->payload_off) ||
	    skb_cow_head(skb, delta > 0 ? delta + LL_MAX_HEADER : LL_MAX_HEADER))
		goto drop;
	in_saddr = ip_hdr(skb)->saddr;
	if (delta > 0)
		skb_push(skb, delta);
	else
		skb_pull(skb, -delta);
	memcpy(skb->data, e->arena + plan->hdr_off, plan->hdr_len);
	skb_reset_network_header(skb);
	skb_set_transport_header(skb, plan->l4_off);
	iph = ip_hdr(skb);
	th = tcp_hdr(skb);
	th->check = ~tcp_v4_check(skb->len - plan->l4_off, iph->saddr, iph->daddr, 0);
	skb->ip_summed = CHECKSUM_PARTIAL;
	skb->csum_start = skb_transport_header(skb) - skb->head;
	skb->csum_offset = offsetof(struct tcphdr, check);
	shinfo = skb_shinfo(skb);
	if (plan->payload_len > plan->mss) {
		shinfo->gso_size = plan->mss;
		shinfo->gso_type = iph->protocol == SVX_IPPROTO_SAL ?
				   SKB_GSO_TCPV4 | SKB_GSO_DODGY : SKB_GSO_TCPV4;
		shinfo->gso_segs = DIV_ROUND_UP(plan->payload_len, plan->mss);
	} else if (skb_is_gso(skb)) {
		skb_gso_reset(skb);
	}
	skb->protocol = htons(ETH_P_IP);
	nf_reset_ct(skb);
	skb_dst_drop(skb);
	rt = svx_route(sn, iph);
	if (IS_ERR(rt))
		goto drop;
	/* Only from a remote source: one of our own addresses arriving on a
	 * device would be a martian to the input route (accept_local), and
	 * takes the loopback way (the stream relay's Serval leg does). A source
	 * the translation kept is the one the packet arrived with, which the
	 * input route checks as for any arriving packet: no lookup for it.
	 */
	if (pre_routing && rt->rt_type == RTN_LOCAL &&
	    (iph->saddr == in_saddr || inet_addr_type(sn->net, iph->saddr) != RTN_LOCAL)) {
		svx_count(sn, SVX_ST_EMITTED, 1);
		return SVX_PLANNED_DELIVER;
	}
	skb_dst_set_noref(skb, &rt->dst);
	skb->dev = rt->dst.dev;
	dst_output(sn->net, NULL, skb);
	svx_count(sn, SVX_ST_EMITTED, 1);
	return SVX_PLANNED_SENT;
drop:
	svx_count(sn, SVX_ST_XMIT_ERRORS, 1);
	kfree_skb(skb);
	return SVX_PLANNED_SENT;
}

/* Sends e's packets (svx_xmit_one) and empties e. */
void svx_xmit_emitted(struct svx_net *sn, struct svx_emit *e, struct sk_buff **spare)
{
	u16 i;

	for (i = 0; i < e->n_pkts; i++)
		svx_xmit_one(sn, e->arena + e->pkts[i].off, e->pkts[i].len, spare);
	svx_count(sn, SVX_ST_EMITTED, e->n_pkts);
	svx_count(sn, SVX_ST_EMIT_OVERFLOW, e->overflow);
	svx_emit_reset(e);
}

/* ---------------------------------------------------------------- hook */

static unsigned int svx_nf_hook(void *priv, struct sk_buff *skb,
				const struct nf_hook_state *state)
{
	struct svx_net *sn = priv;
	const struct svx_kcfg *cfg = rcu_dereference(sn->cfg);
	struct svx_hook_ctx ctx = {
		.sn = sn,
		.cfg = cfg,
		.local_out = state->hook == NF_INET_LOCAL_OUT,
	};
	struct svx_pcpu_buf *buf;
	enum svx_verdict verdict;
	struct sk_buff *spare;
	const u8 *in;
	struct svx_emit emit;
	unsigned int len = skb->len, copy;
	bool verify, planned, deliver = false;
	unsigned int in_flags = 0;
	u8 proto;

	if (!cfg || len < sizeof(struct iphdr) || len > SVX_MAX_PKT)
		return NF_ACCEPT;
	proto = ip_hdr(skb)->protocol;
	if (proto != IPPROTO_TCP && proto != SVX_IPPROTO_SAL && proto != IPPROTO_ICMP) {
		svx_count(sn, SVX_ST_PACKETS, 1);
		svx_count(sn, SVX_ST_NOT_OURS, 1);
		return NF_ACCEPT;
	}
	/* A partial checksum (local or offloaded) cannot be verified; one the
	 * device vouched for needs no second check.
	 */
	verify = skb->ip_summed == CHECKSUM_NONE || skb->ip_summed == CHECKSUM_COMPLETE;
	if (verify)
		in_flags |= SVX_IN_VERIFY_CSUM;
	if (skb->pkt_type == PACKET_BROADCAST || skb->pkt_type == PACKET_MULTICAST)
		in_flags |= SVX_IN_LINK_BROADCAST;

	local_bh_disable();	/* the per-CPU buffers; hooks in LOCAL_OUT may be preemptible */
	buf = this_cpu_ptr(svx_bufs);
	/*
	 * With header plans the core reads only headers, unless it must verify
	 * the checksum or read an ICMP quote: then the whole packet is copied.
	 */
	copy = len;
	if (svx_header_plans && !verify && proto != IPPROTO_ICMP)
		copy = min(len, SVX_HDR_COPY);
	/*
	 * What the core reads is in the linear part (small packets, and the
	 * headers of large ones): read it in place. The core only reads it, and
	 * nothing reads it once the skb is rewritten below.
	 */
	if (skb_headlen(skb) >= copy) {
		in = skb->data;
	} else if (!skb_copy_bits(skb, 0, buf->in, copy)) {
		in = buf->in;
	} else {
		local_bh_enable();
		return NF_ACCEPT;
	}
	svx_emit_init(&emit, buf->arena, SVX_ARENA_SIZE, buf->pkts, SVX_ARENA_PKTS);
	if (svx_header_plans)
		svx_emit_allow_plan(&emit, in, copy);
	verdict = svx_engine_process(&cfg->roles, &svx_kops, &ctx, in, len, in_flags,
				     svx_now_ms(), &emit);
	if (verdict == SVX_VERDICT_PASS) {
		svx_xmit_emitted(sn, &emit, NULL);
		local_bh_enable();
		return NF_ACCEPT;
	}
	/*
	 * The translation goes first, then what the core originated after it
	 * (a packet delivered here continues after this hook, but whatever the
	 * core sends to this host as well queues behind it on loopback).
	 */
	planned = emit.planned;
	if (planned) {
		deliver = svx_xmit_planned(sn, skb, &emit, !ctx.local_out) == SVX_PLANNED_DELIVER;
		svx_xmit_emitted(sn, &emit, NULL);
		local_bh_enable();
		return deliver ? NF_ACCEPT : NF_STOLEN;
	}
	if (ctx.dropped) {
		svx_xmit_emitted(sn, &emit, NULL);
		local_bh_enable();
		return NF_DROP;
	}
	/* Consumed: its skb may carry the first packet sent in its place. */
	spare = skb;
	svx_xmit_emitted(sn, &emit, &spare);
	local_bh_enable();
	if (spare)
		consume_skb(spare);
	return NF_STOLEN;
}

/*
 * Forwarded SAL super-packets: ip_rcv() points the transport header at the
 * SAL header, and kernels with "net: pull headers in
 * qdisc_pkt_len_segs_init()" (Debian's 6.12.117, not 6.1.192) drop a TCP
 * GSO packet whose transport header is not TCP before any gso_segment runs.
 * Pointing it at the TCP header after the SAL one keeps them alive (our
 * gso_segment resets it anyway). Registered in every namespace, unlike the
 * translation hooks: forwarding namespaces have no svxlat configuration.
 */
static unsigned int svx_gso_fix_hook(void *priv, struct sk_buff *skb,
				     const struct nf_hook_state *state)
{
	struct svx_net *sn = priv;
	unsigned int sal, sal_len;

	if (likely(!skb_is_gso(skb)) || skb->encapsulation ||
	    ip_hdr(skb)->protocol != SVX_IPPROTO_SAL ||
	    !(skb_shinfo(skb)->gso_type & SKB_GSO_TCPV4))
		return NF_ACCEPT;
	sal = skb_network_offset(skb) + ip_hdr(skb)->ihl * 4;
	if (!pskb_may_pull(skb, sal + SVX_SAL_BASE_LEN))
		goto drop;
	sal_len = skb->data[sal + offsetof(struct svx_sal_base, shl)] * 4u;
	if (sal_len < SVX_SAL_BASE_LEN || !pskb_may_pull(skb, sal + sal_len + sizeof(struct tcphdr)))
		goto drop;
	skb_set_transport_header(skb, sal + sal_len);
	return NF_ACCEPT;
drop:
	svx_count(sn, SVX_ST_GSO_MALFORMED, 1);
	return NF_DROP;
}

/* ------------------------------------------------ timer work and config */

static void svx_work_fn(struct work_struct *work)
{
	struct svx_net *sn = container_of(to_delayed_work(work), struct svx_net, work);
	const struct svx_kcfg *cfg;
	struct svx_emit emit;
	int rounds = 0;
	bool more;

	rcu_read_lock();
	cfg = rcu_dereference(sn->cfg);
	if (cfg) {
		local_bh_disable();
		do {
			svx_emit_init(&emit, sn->work_arena, SVX_ARENA_SIZE, sn->work_pkts,
				      SVX_ARENA_PKTS);
			more = svx_flows_tick(sn, cfg, svx_now_ms(), &emit);
			svx_xmit_emitted(sn, &emit, NULL);
		} while (more && ++rounds < 64);
		local_bh_enable();
	}
	rcu_read_unlock();
	if (!READ_ONCE(sn->work_stop))
		schedule_delayed_work(&sn->work, msecs_to_jiffies(SVX_TICK_MS));
}

void svx_kcfg_free(struct svx_kcfg *cfg)
{
	if (!cfg)
		return;
	kvfree(cfg->rows);
	svx_routes_free(cfg->xlt_routes);
	kfree(cfg);
}

int svx_net_configure(struct svx_net *sn, struct svx_kcfg *cfg)
{
	struct svx_kcfg *old;
	int err;

	mutex_lock(&sn->cfg_mutex);
	old = rcu_dereference_protected(sn->cfg, lockdep_is_held(&sn->cfg_mutex));
	rcu_assign_pointer(sn->cfg, cfg);
	if (!sn->hooks_registered) {
		err = nf_register_net_hooks(sn->net, sn->hook_ops, ARRAY_SIZE(sn->hook_ops));
		if (err) {
			rcu_assign_pointer(sn->cfg, old);
			mutex_unlock(&sn->cfg_mutex);
			return err;
		}
		sn->hooks_registered = true;
		WRITE_ONCE(sn->work_stop, false);
		schedule_delayed_work(&sn->work, msecs_to_jiffies(SVX_TICK_MS));
	}
	mutex_unlock(&sn->cfg_mutex);
	synchronize_rcu();	/* no packet still reads the old configuration */
	if (old && old->xlt_routes && cfg->xlt_routes)
		svx_routes_carry_counts(old->xlt_routes, cfg->xlt_routes);
	svx_kcfg_free(old);
	return 0;
}

/* Stops the hooks and the work; cfg stays published for the caller. */
static void svx_net_stop_locked(struct svx_net *sn)
{
	if (!sn->hooks_registered)
		return;
	nf_unregister_net_hooks(sn->net, sn->hook_ops, ARRAY_SIZE(sn->hook_ops));
	sn->hooks_registered = false;
	WRITE_ONCE(sn->work_stop, true);
	cancel_delayed_work_sync(&sn->work);
}

void svx_net_unconfigure(struct svx_net *sn)
{
	struct svx_kcfg *cfg;
	struct svx_emit emit;

	mutex_lock(&sn->cfg_mutex);
	cfg = rcu_dereference_protected(sn->cfg, lockdep_is_held(&sn->cfg_mutex));
	if (!cfg) {
		mutex_unlock(&sn->cfg_mutex);
		svx_routes_replace(sn, NULL);
		return;
	}
	svx_net_stop_locked(sn);
	/* Reset every flow on both sides, as the user-space engine does at
	 * shutdown, in batches of what the work arena holds.
	 */
	for (;;) {
		bool more;

		local_bh_disable();
		svx_emit_init(&emit, sn->work_arena, SVX_ARENA_SIZE, sn->work_pkts, SVX_ARENA_PKTS);
		more = svx_flows_abort_some(sn, cfg, &emit);
		svx_xmit_emitted(sn, &emit, NULL);
		local_bh_enable();
		if (!more)
			break;
		cond_resched();
	}
	RCU_INIT_POINTER(sn->cfg, NULL);
	/* Hooks and work stopped, resets sent: the routes they used can go. */
	svx_rcache_flush(sn);
	mutex_unlock(&sn->cfg_mutex);
	synchronize_rcu();
	svx_kcfg_free(cfg);
	svx_routes_replace(sn, NULL);
}

/* ---------------------------------------------------------- namespaces */

static int __net_init svx_net_init(struct net *net)
{
	struct svx_net *sn = svx_net_get(net);
	int i, err;

	sn->net = net;
	mutex_init(&sn->cfg_mutex);
	INIT_DELAYED_WORK(&sn->work, svx_work_fn);
	sn->stats = alloc_percpu(struct svx_pcpu_stats);
	sn->rcache = alloc_percpu(struct svx_rcache);
	sn->work_arena = kvmalloc(SVX_ARENA_SIZE, GFP_KERNEL);
	sn->work_pkts = kcalloc(SVX_ARENA_PKTS, sizeof(*sn->work_pkts), GFP_KERNEL);
	if (!sn->stats || !sn->rcache || !sn->work_arena || !sn->work_pkts) {
		err = -ENOMEM;
		goto fail;
	}
	err = svx_flows_init(sn);
	if (err)
		goto fail;
	for (i = 0; i < ARRAY_SIZE(sn->hook_ops); i++) {
		sn->hook_ops[i].hook = svx_nf_hook;
		sn->hook_ops[i].pf = NFPROTO_IPV4;
		sn->hook_ops[i].priority = SVX_HOOK_PRIORITY;
		sn->hook_ops[i].priv = sn;
	}
	sn->hook_ops[0].hooknum = NF_INET_PRE_ROUTING;
	sn->hook_ops[1].hooknum = NF_INET_LOCAL_OUT;
	sn->gso_fix_ops.hook = svx_gso_fix_hook;
	sn->gso_fix_ops.pf = NFPROTO_IPV4;
	sn->gso_fix_ops.hooknum = NF_INET_POST_ROUTING;
	sn->gso_fix_ops.priority = NF_IP_PRI_LAST;
	sn->gso_fix_ops.priv = sn;
	err = nf_register_net_hook(net, &sn->gso_fix_ops);
	if (err) {
		svx_flows_destroy(sn);
		goto fail;
	}
	return 0;
fail:
	kfree(sn->work_pkts);
	kvfree(sn->work_arena);
	free_percpu(sn->rcache);
	free_percpu(sn->stats);
	return err;
}

/*
 * Namespace exit and module unload: hooks go first (nf_unregister_net_hooks
 * waits for running hooks), then the work; flows are freed without resets
 * (the namespace or the module is going away, not the configuration).
 */
static void __net_exit svx_net_exit(struct net *net)
{
	struct svx_net *sn = svx_net_get(net);

	mutex_lock(&sn->cfg_mutex);
	svx_net_stop_locked(sn);
	mutex_unlock(&sn->cfg_mutex);
	nf_unregister_net_hook(net, &sn->gso_fix_ops);
	cancel_delayed_work_sync(&sn->work);
	synchronize_rcu();
	svx_flows_destroy(sn);
	svx_kcfg_free(rcu_dereference_protected(sn->cfg, true));
	RCU_INIT_POINTER(sn->cfg, NULL);
	svx_routes_free(rcu_dereference_protected(sn->routes, true));
	RCU_INIT_POINTER(sn->routes, NULL);
	svx_rcache_flush(sn);
	free_percpu(sn->rcache);
	kfree(sn->work_pkts);
	kvfree(sn->work_arena);
	free_percpu(sn->stats);
}

static struct pernet_operations svx_net_ops = {
	.init = svx_net_init,
	.exit = svx_net_exit,
	.id = &svx_net_id,
	.size = sizeof(struct svx_net),
};

static void svx_bufs_free(void)
{
	int cpu;

	if (!svx_bufs)
		return;
	for_each_possible_cpu(cpu) {
		struct svx_pcpu_buf *b = per_cpu_ptr(svx_bufs, cpu);

		kvfree(b->in);
		kvfree(b->arena);
		kfree(b->pkts);
	}
	free_percpu(svx_bufs);
	svx_bufs = NULL;
}

int svx_net_init_module(void)
{
	int cpu, err;

	svx_bufs = alloc_percpu(struct svx_pcpu_buf);
	if (!svx_bufs)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		struct svx_pcpu_buf *b = per_cpu_ptr(svx_bufs, cpu);

		b->in = kvmalloc(SVX_MAX_PKT, GFP_KERNEL);
		b->arena = kvmalloc(SVX_ARENA_SIZE, GFP_KERNEL);
		b->pkts = kcalloc(SVX_ARENA_PKTS, sizeof(*b->pkts), GFP_KERNEL);
		if (!b->in || !b->arena || !b->pkts) {
			svx_bufs_free();
			return -ENOMEM;
		}
	}
	err = register_pernet_subsys(&svx_net_ops);
	if (err)
		svx_bufs_free();
	return err;
}

void svx_net_exit_module(void)
{
	unregister_pernet_subsys(&svx_net_ops);
	svx_bufs_free();
}
