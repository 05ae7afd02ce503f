// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Packet classification and flow lookup shared by the NFQUEUE workers and
 * the kernel module (engine.h). The order of checks is the contract the
 * packet fixtures pin down.
 */
#include "../engine.h"
#include "../csum.h"
#include "../route.h"
#include "../tcp.h"

#define SVX_IPPROTO_ICMP 1

struct svx_engine_call {
	const struct svx_engine_roles *roles;
	const struct svx_engine_ops *ops;
	void *ctx;
	const u8 *pkt;
	size_t len;
	bool verify_csum;
	bool link_broadcast;
	u64 now_ms;
	struct svx_emit *out;
};

static bool svx_same_addr(const u8 *a, const u8 *b)
{
	return memcmp(a, b, 4) == 0;
}

static bool svx_is_pure_syn(const u8 *tcp)
{
	return (svx_tcp_flags(tcp) & (SVX_TCP_SYN | SVX_TCP_ACK | SVX_TCP_RST)) == SVX_TCP_SYN;
}

const struct svx_host_service *svx_host_service_find(const struct svx_host_service *services,
						     u32 n, const struct svx_sid *id)
{
	const struct svx_host_service *best = NULL;
	u32 i;

	for (i = 0; i < n; i++)
		if (svx_sid_prefix_match(id, &services[i].prefix, services[i].bits) &&
		    (!best || services[i].bits > best->bits))
			best = &services[i];
	return best;
}

static enum svx_verdict svx_pass(const struct svx_engine_call *c)
{
	c->ops->count(c->ctx, SVX_ST_NOT_OURS, 1);
	return SVX_VERDICT_PASS;
}

static enum svx_verdict svx_consume_drop(const struct svx_engine_call *c, enum svx_err reason)
{
	c->ops->drop(c->ctx, reason);
	return SVX_VERDICT_CONSUMED;
}

/* Counts what the state machine did and hands the flow back. */
static void svx_after_call(const struct svx_engine_call *c, struct svx_flow *f,
			   const struct svx_result *r, enum svx_stat translated)
{
	if (r->action == SVX_ACT_DROP)
		c->ops->drop(c->ctx, (enum svx_err)r->reason);
	else
		c->ops->count(c->ctx, translated, 1);
	if (r->flow_closed)
		c->ops->count(c->ctx, SVX_ST_FLOWS_CLOSED, 1);
	c->ops->done(c->ctx, f);
}

static void svx_reset_reply(const struct svx_engine_call *c, const struct svx_tcp_view *tv)
{
	if (svx_emit_tcp_reset_reply(c->pkt, tv, c->roles->flow.ttl, c->out))
		c->ops->count(c->ctx, SVX_ST_TCP_RESET_REPLIES, 1);
}

static u32 svx_random_u32(const struct svx_engine_call *c)
{
	u32 v;

	c->ops->random(c->ctx, &v, sizeof(v));
	return v;
}

/* A TCP packet to a translator row's public address, or of a live translator flow. */
static enum svx_verdict svx_translator_tcp(const struct svx_engine_call *c,
					   const struct svx_tcp_view *tv,
					   const struct svx_xlt_match *row, struct svx_flow *f)
{
	const u8 *tcp = c->pkt + tv->tcp_off;
	bool syn = svx_is_pure_syn(tcp), have_dst = false;
	u8 nonce[SVX_NONCE_LEN], sal_dst[4];
	struct svx_result r;
	u32 iss;

	if (f && syn && (f->state == SVX_FS_TIME_WAIT || f->state == SVX_FS_CLOSED)) {
		c->ops->remove(c->ctx, f);	/* the client reuses the port: a new connection */
		f = NULL;
	}
	if (!f) {
		if (!syn || !row) {
			c->ops->drop(c->ctx, SVX_E_NO_FLOW);
			svx_reset_reply(c, tv);
			return SVX_VERDICT_CONSUMED;
		}
		f = c->ops->admit(c->ctx, c->out);
		if (!f) {
			c->ops->count(c->ctx, SVX_ST_TABLE_FULL, 1);
			return SVX_VERDICT_CONSUMED;
		}
		c->ops->random(c->ctx, nonce, sizeof(nonce));
		iss = svx_random_u32(c);
		svx_flow_init_translator(f, c->pkt, tv, &row->service, c->roles->xlt_addr,
					 c->ops->new_local_flow(c->ctx), iss, nonce,
					 row->strip_opts, c->now_ms);
		if (!c->ops->insert(c->ctx, f, NULL, 0))
			return svx_consume_drop(c, SVX_E_STATE);
		c->ops->count(c->ctx, SVX_ST_FLOWS_CREATED, 1);
	}
	/* Resolved again for every SYN, retransmissions included (section 11.3). */
	if (syn)
		have_dst = c->ops->xlt_sal_dst(c->ctx, &f->service, sal_dst);
	r = svx_flow_from_tcp(f, &c->roles->flow, c->pkt, tv, have_dst ? sal_dst : NULL,
			      c->now_ms, c->out);
	svx_after_call(c, f, &r, SVX_ST_TCP_TO_SAL);
	return SVX_VERDICT_CONSUMED;
}

static bool svx_is_host_service_port(const struct svx_engine_roles *roles, const u8 *addr,
				     u16 port)
{
	u32 i;

	if (!roles->host || !svx_same_addr(addr, roles->host_addr))
		return false;
	for (i = 0; i < roles->n_host_services; i++)
		if (roles->host_services[i].port == port)
			return true;
	return false;
}

/*
 * Parses and checks a TCP packet that one of our roles owns. Translation
 * recomputes the checksum, so a corrupted segment must be caught here or it
 * would leave with a valid one.
 */
static enum svx_err svx_tcp_check(const struct svx_engine_call *c, struct svx_tcp_view *tv)
{
	enum svx_err err = svx_tcp_parse(c->pkt, c->len, tv);

	if (err == SVX_OK && c->verify_csum &&
	    svx_csum_l4_ipv4(svx_ip_saddr(c->pkt), svx_ip_daddr(c->pkt), SVX_IPPROTO_TCP,
			     c->pkt + tv->tcp_off, tv->ip_len - tv->tcp_off) != 0)
		err = SVX_E_L4_CSUM;
	return err;
}

static enum svx_verdict svx_on_tcp(const struct svx_engine_call *c)
{
	const struct svx_engine_roles *roles = c->roles;
	const u8 *saddr = svx_ip_saddr(c->pkt), *daddr = svx_ip_daddr(c->pkt);
	struct svx_xlt_match row, *rowp = NULL;
	unsigned int hlen, tot;
	struct svx_flow *f = NULL;
	struct svx_tcp_view tv;
	struct svx_result r;
	u16 sport, dport;
	enum svx_err err;

	/* Classify on the ports first: only packets we own are judged. */
	err = svx_ipv4_parse(c->pkt, c->len, 0, &hlen, &tot);
	if (err == SVX_OK && tot - hlen < 4)
		err = SVX_E_L4_TRUNCATED;
	if (err != SVX_OK)
		return roles->steered ? svx_consume_drop(c, err) : svx_pass(c);
	sport = svx_get_be16(c->pkt + hlen);
	dport = svx_get_be16(c->pkt + hlen + 2);

	if (roles->translator) {
		bool xlt_flow;

		/* A row removed by a reload stops new flows; its live flows go on. */
		f = c->ops->find_tcp(c->ctx, saddr, daddr, sport, dport);
		xlt_flow = f && f->role == SVX_ROLE_TRANSLATOR;
		/* Only a SYN may start a flow: a live translator flow's other
		 * segments need no row (svx_translator_tcp reads it for SYNs).
		 */
		if ((!xlt_flow || tot - hlen < SVX_TCP_HDR_LEN || svx_is_pure_syn(c->pkt + hlen)) &&
		    c->ops->xlt_row(c->ctx, daddr, dport, &row))
			rowp = &row;
		if (rowp || xlt_flow) {
			err = svx_tcp_check(c, &tv);
			if (err != SVX_OK) {
				if (f)
					c->ops->done(c->ctx, f);
				return svx_consume_drop(c, err);
			}
			if (f && !xlt_flow) {
				c->ops->done(c->ctx, f);
				f = NULL;
			}
			return svx_translator_tcp(c, &tv, rowp, f);
		}
	}
	if (!svx_is_host_service_port(roles, saddr, sport)) {
		if (f)
			c->ops->done(c->ctx, f);
		/* Steering only queues TCP for our pairs, so a malformed one is ours. */
		err = roles->steered ? svx_tcp_check(c, &tv) : SVX_OK;
		return err != SVX_OK ? svx_consume_drop(c, err) : svx_pass(c);
	}
	if (!roles->translator)
		f = c->ops->find_tcp(c->ctx, saddr, daddr, sport, dport);
	if (!f && svx_same_addr(daddr, roles->host_addr)) {
		/* The server talking to a local client (a health check): not ours. */
		return svx_pass(c);
	}
	err = svx_tcp_check(c, &tv);
	if (err != SVX_OK) {
		if (f)
			c->ops->done(c->ctx, f);
		return svx_consume_drop(c, err);
	}
	if (!f) {
		c->ops->drop(c->ctx, SVX_E_NO_FLOW);
		svx_reset_reply(c, &tv);
		return SVX_VERDICT_CONSUMED;
	}
	r = svx_flow_from_tcp(f, &roles->flow, c->pkt, &tv, NULL, c->now_ms, c->out);
	svx_after_call(c, f, &r, SVX_ST_TCP_TO_SAL);
	return SVX_VERDICT_CONSUMED;
}

static enum svx_verdict svx_host_sal_syn(const struct svx_engine_call *c,
					 const struct svx_pkt_view *pv)
{
	const u8 *sal = c->pkt + pv->sal_off, *peer_addr;
	const struct svx_host_service *svc;
	u8 nonce[SVX_NONCE_LEN];
	struct svx_flow tmp, *f;
	struct svx_sid service;
	struct svx_result r;
	u16 flow_port;
	enum svx_err err;
	u32 iss;

	if (!pv->sal.n_service)
		return svx_consume_drop(c, SVX_E_NO_ROUTE);
	memcpy(service.b, svx_sal_service(sal, &pv->sal, 0), SVX_SID_LEN);
	svc = svx_host_service_find(c->roles->host_services, c->roles->n_host_services, &service);
	if (!svc)
		return svx_consume_drop(c, SVX_E_NO_ROUTE);
	peer_addr = pv->sal.n_source ? svx_sal_source_addr(sal, &pv->sal, 0) : svx_ip_saddr(c->pkt);
	f = c->ops->find_peer(c->ctx, peer_addr, svx_sal_src_flow(sal));
	if (!f) {
		if (!c->ops->new_flow_port(c->ctx, &flow_port)) {
			c->ops->count(c->ctx, SVX_ST_NO_FLOW_PORT, 1);
			return SVX_VERDICT_CONSUMED;
		}
		/* Check the SYN before it may cost an embryonic flow its place,
		 * and before an entry is taken that a failure would leak.
		 */
		c->ops->random(c->ctx, nonce, sizeof(nonce));
		iss = svx_random_u32(c);
		err = svx_flow_init_host(&tmp, c->pkt, pv, svc->port, flow_port,
					 c->ops->new_local_flow(c->ctx), iss, nonce, c->now_ms);
		if (err != SVX_OK)
			return svx_consume_drop(c, err);
		f = c->ops->admit(c->ctx, c->out);
		if (!f) {
			c->ops->count(c->ctx, SVX_ST_TABLE_FULL, 1);
			return SVX_VERDICT_CONSUMED;
		}
		*f = tmp;
		if (!c->ops->insert(c->ctx, f, peer_addr, svx_sal_src_flow(sal)))
			return svx_consume_drop(c, SVX_E_STATE);
		c->ops->count(c->ctx, SVX_ST_FLOWS_CREATED, 1);
	}
	r = svx_flow_from_sal(f, &c->roles->flow, c->pkt, pv, c->now_ms, c->out);
	svx_after_call(c, f, &r, SVX_ST_SAL_TO_TCP);
	return SVX_VERDICT_CONSUMED;
}

/*
 * SAL to the service router's address that no flow of ours owns: a
 * registration, or a packet to resolve by service ID and forward (section
 * 12). The router verifies the IP checksum too (a forwarded packet keeps
 * its header) and needs the whole packet: the forwarded copy is emitted.
 */
static enum svx_verdict svx_router(const struct svx_engine_call *c,
				   const struct svx_pkt_view *pv)
{
	unsigned int verify = c->verify_csum ? SVX_PKT_VERIFY_L4_CSUM : 0;
	struct svx_reg_datagram reg;
	struct svx_pkt_view v;
	struct svx_sid service;
	const u8 *sid;
	enum svx_err err;
	u8 target[4], *p;
	u32 cap;
	int len;

	if (svx_router_is_registration(c->pkt, pv, &c->roles->router_id)) {
		if (!c->ops->router_register)
			return svx_pass(c);
		err = svx_reg_datagram_parse(c->pkt, c->len, verify, &reg);
		if (err != SVX_OK)
			return svx_consume_drop(c, err);
		c->ops->router_register(c->ctx, &reg);
		return SVX_VERDICT_CONSUMED;
	}
	/* Section 12 step 1: broadcast default routes would otherwise loop.
	 * (Only the caller knows how the frame was addressed: the IP
	 * destination is the router's own, or the packet would not be here.)
	 */
	if (c->link_broadcast)
		return svx_consume_drop(c, SVX_E_LINK_BROADCAST);
	if (c->out->plan_input && c->out->plan_readable < c->len)
		return svx_consume_drop(c, SVX_E_NOSPACE);	/* only headers were copied */
	err = svx_pkt_parse(c->pkt, c->len, SVX_PKT_VERIFY_IP_CSUM | verify, &v);
	if (err != SVX_OK)
		return svx_consume_drop(c, err);
	sid = svx_sal_service(c->pkt + v.sal_off, &v.sal, 0);
	if (!sid)
		return svx_consume_drop(c, SVX_E_NO_ROUTE);
	memcpy(service.b, sid, SVX_SID_LEN);
	/* No route: unanswered, as the reference (section 6.7). */
	if (!c->ops->router_resolve(c->ctx, &service, target))
		return svx_consume_drop(c, SVX_E_NO_ROUTE);
	cap = (u32)v.ip_len + SVX_EXT_SOURCE_LEN(2);
	p = svx_emit_alloc(c->out, cap);
	if (!p)
		return SVX_VERDICT_CONSUMED;	/* counted as an emit overflow */
	memcpy(p, c->pkt, v.ip_len);
	len = svx_router_forward(p, cap, &v, target);
	if (len < 0)	/* nothing committed: the arena space is reused */
		return svx_consume_drop(c, (enum svx_err)-len);
	svx_emit_commit(c->out, (u32)len);
	c->ops->count(c->ctx, SVX_ST_ROUTER_FORWARDED, 1);
	return SVX_VERDICT_CONSUMED;
}

static enum svx_verdict svx_on_sal(const struct svx_engine_call *c)
{
	const struct svx_engine_roles *roles = c->roles;
	const u8 *daddr = svx_ip_daddr(c->pkt), *sal;
	struct svx_pkt_view pv;
	struct svx_flow *f;
	struct svx_result r;
	bool pure_syn;
	enum svx_err err;
	u8 ctl;

	/* Only SAL to one of our addresses is ours: anything else passes
	 * untouched (no drop, and no passive RST in another host's name).
	 */
	if (!(roles->translator && svx_same_addr(daddr, roles->xlt_addr)) &&
	    !(roles->host && svx_same_addr(daddr, roles->host_addr)) &&
	    !(roles->router && svx_same_addr(daddr, roles->router_addr)))
		return svx_pass(c);
	err = svx_pkt_parse(c->pkt, c->len, c->verify_csum ? SVX_PKT_VERIFY_L4_CSUM : 0, &pv);
	if (err != SVX_OK)
		return svx_consume_drop(c, err);
	sal = c->pkt + pv.sal_off;
	ctl = pv.sal.ctrl_off ? pv.sal.flags : 0;
	pure_syn = (ctl & (SVX_CTL_SYN | SVX_CTL_ACK)) == SVX_CTL_SYN;

	if (pure_syn && roles->host && svx_same_addr(daddr, roles->host_addr))
		return svx_host_sal_syn(c, &pv);
	if (!pure_syn) {
		f = c->ops->find_local(c->ctx, svx_sal_dst_flow(sal));
		if (f && svx_same_addr(f->sal_local_addr, daddr)) {
			r = svx_flow_from_sal(f, &roles->flow, c->pkt, &pv, c->now_ms, c->out);
			svx_after_call(c, f, &r, SVX_ST_SAL_TO_TCP);
			return SVX_VERDICT_CONSUMED;
		}
		if (f)
			c->ops->done(c->ctx, f);
	}
	if (roles->router && svx_same_addr(daddr, roles->router_addr))
		return svx_router(c, &pv);
	/* No flow and no service here: a passive RST, except for SYNs, which the
	 * reference leaves unanswered (section 6.7).
	 */
	c->ops->drop(c->ctx, pure_syn ? SVX_E_NO_ROUTE : SVX_E_NO_FLOW);
	if (!pure_syn && svx_emit_passive_rst(c->pkt, &pv, roles->flow.ttl, c->out))
		c->ops->count(c->ctx, SVX_ST_PASSIVE_RESETS, 1);
	return SVX_VERDICT_CONSUMED;
}

static enum svx_verdict svx_on_icmp(const struct svx_engine_call *c)
{
	unsigned int ihl = (unsigned int)(c->pkt[0] & 0xf) * 4;
	unsigned int tot = svx_get_be16(c->pkt + 2);
	const u8 *icmp;
	struct svx_flow *f;
	struct svx_result r;
	u32 src_flow = 0;

	if (ihl < SVX_IPV4_HDR_LEN || tot > c->len || tot < ihl + SVX_ICMP_HDR_LEN)
		return svx_pass(c);
	icmp = c->pkt + ihl;
	if (icmp[0] != SVX_ICMP_DEST_UNREACH ||
	    svx_icmp_inner_sal_flow(icmp, tot - ihl, &src_flow) != SVX_OK)
		return svx_pass(c);
	f = c->ops->find_local(c->ctx, src_flow);
	if (!f)
		return svx_consume_drop(c, SVX_E_NO_FLOW);
	r = svx_flow_from_icmp(f, &c->roles->flow, icmp, tot - ihl, c->now_ms, c->out);
	svx_after_call(c, f, &r, SVX_ST_SAL_TO_TCP);
	return SVX_VERDICT_CONSUMED;
}

enum svx_verdict svx_engine_process(const struct svx_engine_roles *roles,
				    const struct svx_engine_ops *ops, void *ctx, const u8 *pkt,
				    size_t len, unsigned int in_flags, u64 now_ms,
				    struct svx_emit *out)
{
	struct svx_engine_call c = {
		.roles = roles,
		.ops = ops,
		.ctx = ctx,
		.pkt = pkt,
		.len = len,
		.verify_csum = in_flags & SVX_IN_VERIFY_CSUM,
		.link_broadcast = in_flags & SVX_IN_LINK_BROADCAST,
		.now_ms = now_ms,
		.out = out,
	};

	ops->count(ctx, SVX_ST_PACKETS, 1);
	if (len < SVX_IPV4_HDR_LEN || pkt[0] >> 4 != 4)
		return svx_pass(&c);
	switch (pkt[9]) {
	case SVX_IPPROTO_TCP:
		return svx_on_tcp(&c);
	case SVX_IPPROTO_SAL:
		return svx_on_sal(&c);
	case SVX_IPPROTO_ICMP:
		return svx_on_icmp(&c);
	default:
		return svx_pass(&c);
	}
}
