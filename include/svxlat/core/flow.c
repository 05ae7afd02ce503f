// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Per-flow translation between plain TCP and Serval (SAL + TCP). See
 * flow.h for the roles and docs/translation.md for the state diagram.
 */
#include "../flow.h"
#include "../csum.h"
#include "../tcp.h"

#define SVX_TCP_SAL_OVERHEAD (SVX_IPV4_HDR_LEN + SVX_SAL_BASE_LEN + SVX_TCP_HDR_LEN)
#define SVX_ICMP_MIN_MTU 68

static const char *const svx_state_names[SVX_FS__COUNT] = {
	[SVX_FS_SYN_SENT] = "syn-sent",
	[SVX_FS_SYN_RECV] = "syn-recv",
	[SVX_FS_ESTABLISHED] = "established",
	[SVX_FS_CLOSING] = "closing",
	[SVX_FS_TIME_WAIT] = "time-wait",
	[SVX_FS_CLOSED] = "closed",
};

const char *svx_flow_state_name(enum svx_flow_state state)
{
	if ((unsigned int)state >= SVX_FS__COUNT)
		return "unknown";
	return svx_state_names[state];
}

enum svx_timeout svx_flow_timeout_class(enum svx_flow_state state)
{
	switch (state) {
	case SVX_FS_SYN_SENT:
	case SVX_FS_SYN_RECV:
		return SVX_TO_EMBRYONIC;
	case SVX_FS_ESTABLISHED:
		return SVX_TO_ESTABLISHED;
	case SVX_FS_CLOSING:
		return SVX_TO_CLOSING;
	default:
		return SVX_TO_TIME_WAIT;
	}
}

enum svx_err svx_tcp_parse(const u8 *pkt, size_t len, struct svx_tcp_view *v)
{
	unsigned int hlen, tot, thlen;
	enum svx_err err;

	memset(v, 0, sizeof(*v));
	err = svx_ipv4_parse(pkt, len, 0, &hlen, &tot);
	if (err)
		return err;
	if (pkt[9] != SVX_IPPROTO_TCP)
		return SVX_E_L4_PROTO;
	if (tot - hlen < SVX_TCP_HDR_LEN)
		return SVX_E_L4_TRUNCATED;
	thlen = svx_tcp_hlen(pkt + hlen);
	if (thlen < SVX_TCP_HDR_LEN || thlen > tot - hlen)
		return SVX_E_L4_HDR_LEN;
	v->ip_hlen = (u16)hlen;
	v->ip_len = (u16)tot;
	v->tcp_off = (u16)hlen;
	v->tcp_hlen = (u16)thlen;
	v->payload_len = (u16)(tot - hlen - thlen);
	return SVX_OK;
}

/* ------------------------------------------------------------------ emit */

u8 *svx_emit_alloc(struct svx_emit *e, u32 len)
{
	if (e->n_pkts >= e->max_pkts || e->arena_cap - e->used < len) {
		e->overflow++;
		return NULL;
	}
	return e->arena + e->used;
}

void svx_emit_commit(struct svx_emit *e, u32 len)
{
	e->pkts[e->n_pkts].off = e->used;
	e->pkts[e->n_pkts].len = len;
	e->n_pkts++;
	/* Keep every packet 4-byte aligned in the arena. */
	e->used += (len + 3) & ~3u;
	if (e->used > e->arena_cap)
		e->used = e->arena_cap;
}

static u16 svx_flow_mss_cap(const struct svx_flow_cfg *cfg)
{
	u16 to_sal = (u16)(cfg->sal_mtu - SVX_TCP_SAL_OVERHEAD);
	u16 to_tcp = (u16)(cfg->tcp_mtu - SVX_IPV4_HDR_LEN - SVX_TCP_HDR_LEN);

	return to_sal < to_tcp ? to_sal : to_tcp;
}

struct svx_seg_src {
	const u8 *saddr;
	const u8 *daddr;
	u8 ip_proto;
	u8 tos;
	const u8 *sal;		/* SAL header to put before each segment, or NULL */
	unsigned int sal_len;
	u8 *tcp;		/* prepared TCP header: ports set, options rewritten */
	unsigned int tcp_hlen;
	const u8 *payload;
	u32 payload_len;
	u16 mtu;
};

/*
 * The translated segment as a header plan (flow.h), when the glue takes one,
 * this is the first output of the call and the payload is the input's.
 * Returns false to fall back to copying.
 */
static bool svx_emit_plan_segment(struct svx_flow *f,
				  struct svx_emit *out, const struct svx_seg_src *s,
				  const struct svx_ipv4_spec *ip)
{
	unsigned int hdr_len = SVX_IPV4_HDR_LEN + s->sal_len + s->tcp_hlen;
	u8 *p, *tcp;

	if (!out->plan_input || out->planned || out->n_pkts || !s->payload ||
	    s->payload < out->plan_input || hdr_len + s->payload_len > 0xffff ||
	    out->arena_cap - out->used < hdr_len)
		return false;
	p = out->arena + out->used;
	svx_ipv4_build(p, ip, (u16)(hdr_len + s->payload_len));
	if (s->sal_len)
		memcpy(p + SVX_IPV4_HDR_LEN, s->sal, s->sal_len);
	tcp = p + SVX_IPV4_HDR_LEN + s->sal_len;
	memcpy(tcp, s->tcp, s->tcp_hlen);
	tcp[16] = 0;
	tcp[17] = 0;
	out->plan.hdr_off = out->used;
	out->plan.hdr_len = (u16)hdr_len;
	out->plan.l4_off = (u16)(SVX_IPV4_HDR_LEN + s->sal_len);
	out->plan.payload_off = (u32)(s->payload - out->plan_input);
	out->plan.payload_len = s->payload_len;
	out->plan.mss = (u16)(s->mtu - hdr_len);
	out->planned = true;
	out->used += (hdr_len + 3) & ~3u;
	f->stats.packets_out++;
	return true;
}

/*
 * Emits the segment(s) of one TCP segment: split so that each packet fits
 * the MTU (a GSO super-packet from NFQUEUE becomes MTU-size packets, as no
 * kernel offload exists for protocol 144), sequence numbers advanced, FIN
 * and PSH kept on the last piece only, CWR on the first only; full IPv4 and
 * TCP checksums on each.
 */
static int svx_emit_segments(struct svx_flow *f, const struct svx_flow_cfg *cfg,
			     struct svx_emit *out, const struct svx_seg_src *s)
{
	unsigned int hdr_len = SVX_IPV4_HDR_LEN + s->sal_len + s->tcp_hlen;
	u32 max_payload, off = 0, chunk, seq = svx_tcp_seq(s->tcp);
	u8 flags = svx_tcp_flags(s->tcp), seg_flags;
	struct svx_ipv4_spec ip;
	u8 *p, *tcp;
	u16 sum;

	if (s->mtu <= hdr_len)
		return -SVX_E_INVAL;
	max_payload = s->mtu - hdr_len;
	memset(&ip, 0, sizeof(ip));
	memcpy(ip.saddr, s->saddr, 4);
	memcpy(ip.daddr, s->daddr, 4);
	ip.protocol = s->ip_proto;
	ip.ttl = cfg->ttl;
	ip.tos = s->tos;
	ip.df = true;
	ip.id = (u16)f->stats.packets_out;
	if (svx_emit_plan_segment(f, out, s, &ip))
		return 0;
	if (out->plan_input && s->payload_len &&
	    (s->payload < out->plan_input ||
	     s->payload + s->payload_len > out->plan_input + out->plan_readable))
		return -SVX_E_NOSPACE;	/* payload not copied in: never read it */
	do {
		chunk = s->payload_len - off;
		if (chunk > max_payload)
			chunk = max_payload;
		p = svx_emit_alloc(out, hdr_len + chunk);
		if (!p)
			return -SVX_E_NOSPACE;
		ip.id = (u16)f->stats.packets_out;
		svx_ipv4_build(p, &ip, (u16)(hdr_len + chunk));
		if (s->sal_len)
			memcpy(p + SVX_IPV4_HDR_LEN, s->sal, s->sal_len);
		tcp = p + SVX_IPV4_HDR_LEN + s->sal_len;
		memcpy(tcp, s->tcp, s->tcp_hlen);
		if (chunk)	/* RSTs have no payload (and a NULL one) */
			memcpy(tcp + s->tcp_hlen, s->payload + off, chunk);
		seg_flags = flags;
		if (off + chunk < s->payload_len)
			seg_flags &= (u8)~(SVX_TCP_FIN | SVX_TCP_PSH);
		if (off)
			seg_flags &= (u8)~SVX_TCP_CWR;
		tcp[13] = seg_flags;
		svx_put_be32(tcp + 4, seq + off);
		tcp[16] = 0;
		tcp[17] = 0;
		sum = svx_csum_l4_ipv4(s->saddr, s->daddr, SVX_IPPROTO_TCP, tcp,
				       s->tcp_hlen + chunk);
		svx_put_be16(tcp + 16, sum);
		svx_emit_commit(out, hdr_len + chunk);
		f->stats.packets_out++;
		off += chunk;
	} while (off < s->payload_len);
	return 0;
}

/* A control-only SAL packet (FIN, ACK, RST, RSYN-ACK) to daddr. */
static void svx_emit_sal_ctrl(struct svx_flow *f, const struct svx_flow_cfg *cfg,
			      struct svx_emit *out, const u8 daddr[4], u8 flags, u32 verno,
			      u32 ackno)
{
	struct svx_sal_spec spec;
	struct svx_ipv4_spec ip;
	u32 len = SVX_IPV4_HDR_LEN + SVX_SAL_BASE_LEN + SVX_EXT_CONTROL_LEN;
	u8 *p = svx_emit_alloc(out, len);

	if (!p)
		return;
	svx_sal_spec_control(&spec, f->local_flow, f->peer_flow, flags, verno, ackno,
			     f->local_nonce);
	memset(&ip, 0, sizeof(ip));
	memcpy(ip.saddr, f->sal_local_addr, 4);
	memcpy(ip.daddr, daddr, 4);
	ip.protocol = SVX_IPPROTO_SAL;
	ip.ttl = cfg->ttl;
	ip.id = (u16)f->stats.packets_out;
	ip.df = true;
	svx_ipv4_build(p, &ip, (u16)len);
	svx_sal_build(p + SVX_IPV4_HDR_LEN, len - SVX_IPV4_HDR_LEN, &spec);
	svx_emit_commit(out, len);
	f->stats.packets_out++;
}

/* Copies the TCP header of a segment for re-emission with new ports. */
static void svx_prepare_tcp(u8 *dst, const u8 *tcp, unsigned int hlen, u16 sport, u16 dport)
{
	memcpy(dst, tcp, hlen);
	svx_put_be16(dst, sport);
	svx_put_be16(dst + 2, dport);
}

/* A segment from the TCP side, onwards to the SAL peer with header sal. */
static int svx_tcp_to_sal(struct svx_flow *f, const struct svx_flow_cfg *cfg,
			  struct svx_emit *out, const u8 *pkt, const struct svx_tcp_view *tv,
			  const u8 *daddr, const u8 *sal, unsigned int sal_len, bool with_payload,
			  u8 *tcp_hdr)
{
	struct svx_seg_src s = {
		.saddr = f->sal_local_addr,
		.daddr = daddr,
		.ip_proto = SVX_IPPROTO_SAL,
		.tos = pkt[1],
		.sal = sal,
		.sal_len = sal_len,
		.tcp = tcp_hdr,
		.tcp_hlen = tv->tcp_hlen,
		/* Headers only (SYN, handshake ACK): no payload, and no plan,
		 * so that the segment carrying the payload gets it.
		 */
		.payload = with_payload ? pkt + tv->tcp_off + tv->tcp_hlen : NULL,
		.payload_len = with_payload ? tv->payload_len : 0,
		.mtu = cfg->sal_mtu,
	};

	return svx_emit_segments(f, cfg, out, &s);
}

static int svx_sal_to_tcp(struct svx_flow *f, const struct svx_flow_cfg *cfg,
			  struct svx_emit *out, const u8 *pkt, const struct svx_pkt_view *pv,
			  u8 *tcp_hdr)
{
	struct svx_seg_src s = {
		.saddr = f->tcp_self_addr,
		.daddr = f->tcp_remote_addr,
		.ip_proto = SVX_IPPROTO_TCP,
		.tos = pkt[1],
		.tcp = tcp_hdr,
		.tcp_hlen = pv->l4_hlen,
		.payload = pkt + pv->l4_off + pv->l4_hlen,
		.payload_len = (u32)(pv->l4_len - pv->l4_hlen),
		.mtu = cfg->tcp_mtu,
	};

	return svx_emit_segments(f, cfg, out, &s);
}

/* RST|ACK towards the TCP side, in its window. */
static void svx_emit_tcp_rst(struct svx_flow *f, const struct svx_flow_cfg *cfg,
			     struct svx_emit *out)
{
	u8 th[SVX_TCP_HDR_LEN];
	struct svx_seg_src s = {
		.saddr = f->tcp_self_addr,
		.daddr = f->tcp_remote_addr,
		.ip_proto = SVX_IPPROTO_TCP,
		.tcp = th,
		.tcp_hlen = SVX_TCP_HDR_LEN,
		.mtu = cfg->tcp_mtu,
	};

	memset(th, 0, sizeof(th));
	svx_put_be16(th, f->tcp_self_port);
	svx_put_be16(th + 2, f->tcp_remote_port);
	svx_put_be32(th + 4, (f->flags & SVX_FF_SAL_SEEN) ? f->sal_nxt : 0);
	svx_put_be32(th + 8, f->tcp_nxt);
	th[12] = (SVX_TCP_HDR_LEN / 4) << 4;
	th[13] = SVX_TCP_RST | SVX_TCP_ACK;
	svx_emit_segments(f, cfg, out, &s);
}

/* A pure SAL ACK of everything received; it is also the ACK we may owe. */
static void svx_send_ack(struct svx_flow *f, const struct svx_flow_cfg *cfg, struct svx_emit *out)
{
	if (f->ctl_pending == SVX_CTL_ACK)
		f->ctl_pending = 0;
	svx_emit_sal_ctrl(f, cfg, out, f->sal_peer_addr, SVX_CTL_ACK, f->snd_nxt, f->rcv_nxt);
}

/*
 * Our SAL FIN, once our side's TCP FIN is acknowledged (6.6 step 3); it
 * carries the delayed ACK of the peer's FIN when one is owed (FIN|ACK, which
 * the reference takes in FINWAIT1 as ACK and FIN together: step 5).
 */
static void svx_send_our_fin(struct svx_flow *f, const struct svx_flow_cfg *cfg, u64 now_ms,
			     struct svx_emit *out)
{
	f->ctl_pending = f->ctl_pending == SVX_CTL_ACK ? SVX_CTL_FIN | SVX_CTL_ACK : SVX_CTL_FIN;
	f->ctl_verno = f->snd_nxt++;
	f->retrans = 0;
	f->rto_ms = cfg->rto_initial_ms;
	f->rto_deadline_ms = now_ms + f->rto_ms;
	f->flags |= SVX_FF_OUR_SALFIN;
	svx_emit_sal_ctrl(f, cfg, out, f->sal_peer_addr, f->ctl_pending, f->ctl_verno, f->rcv_nxt);
}

static void svx_check_closed(struct svx_flow *f, struct svx_result *r)
{
	const u16 done = SVX_FF_OUR_SALFIN_ACKED | SVX_FF_PEER_SALFIN;

	if ((f->flags & done) == done && f->state != SVX_FS_TIME_WAIT &&
	    f->state != SVX_FS_CLOSED) {
		f->state = SVX_FS_TIME_WAIT;
		r->flow_closed = true;
	}
}

static void svx_track_seq(u32 *nxt, u16 *flags, u16 seen_flag, u32 seq_end)
{
	if (!(*flags & seen_flag) || svx_seq_after(seq_end, *nxt)) {
		*nxt = seq_end;
		*flags |= seen_flag;
	}
}

static struct svx_result svx_drop(enum svx_err reason)
{
	struct svx_result r = { .action = SVX_ACT_DROP, .reason = (u8)reason };

	return r;
}

/* ------------------------------------------------------------------ init */

void svx_flow_init_translator(struct svx_flow *f, const u8 *syn, const struct svx_tcp_view *tv,
			      const struct svx_sid *service, const u8 sal_local[4],
			      u32 local_flow, u32 iss, const u8 nonce[SVX_NONCE_LEN],
			      bool strip_opts, u64 now_ms)
{
	const u8 *tcp = syn + tv->tcp_off;

	memset(f, 0, sizeof(*f));
	f->role = SVX_ROLE_TRANSLATOR;
	f->state = SVX_FS_SYN_SENT;
	if (strip_opts)
		f->flags |= SVX_FF_STRIP_OPTS;
	memcpy(f->tcp_remote_addr, svx_ip_saddr(syn), 4);
	memcpy(f->tcp_self_addr, svx_ip_daddr(syn), 4);
	f->tcp_remote_port = svx_get_be16(tcp);
	f->tcp_self_port = svx_get_be16(tcp + 2);
	memcpy(f->sal_local_addr, sal_local, 4);
	f->local_flow = local_flow;
	f->iss = iss;
	f->snd_una = iss;
	f->snd_nxt = iss + 1;
	memcpy(f->local_nonce, nonce, SVX_NONCE_LEN);
	f->service = *service;
	f->created_ms = now_ms;
	f->last_ms = now_ms;
}

enum svx_err svx_flow_init_host(struct svx_flow *f, const u8 *syn, const struct svx_pkt_view *pv,
				u16 local_port, u16 flow_port, u32 local_flow, u32 iss,
				const u8 nonce[SVX_NONCE_LEN], u64 now_ms)
{
	const u8 *sal = syn + pv->sal_off;
	const struct svx_sal_view *sv = &pv->sal;
	unsigned int i;

	memset(f, 0, sizeof(*f));
	if (sv->n_source > SVX_FLOW_MAX_SOURCE)
		return SVX_E_EXT_LEN;
	f->role = SVX_ROLE_HOST;
	f->state = SVX_FS_SYN_RECV;
	/* The client is SOURCE #0 when a router forwarded the SYN (section 6.3). */
	memcpy(f->sal_peer_addr, sv->n_source ? svx_sal_source_addr(sal, sv, 0) : svx_ip_saddr(syn), 4);
	memcpy(f->sal_local_addr, svx_ip_daddr(syn), 4);
	memcpy(f->tcp_remote_addr, svx_ip_daddr(syn), 4);
	memcpy(f->tcp_self_addr, f->sal_peer_addr, 4);
	f->tcp_remote_port = local_port;
	f->tcp_self_port = flow_port;
	f->local_flow = local_flow;
	f->peer_flow = svx_sal_src_flow(sal);
	f->iss = iss;
	f->snd_una = iss;
	f->snd_nxt = iss + 1;
	f->peer_iss = svx_sal_verno(sal, sv);
	f->rcv_nxt = f->peer_iss + 1;
	memcpy(f->local_nonce, nonce, SVX_NONCE_LEN);
	if (sv->ctrl_off)
		memcpy(f->peer_nonce, svx_sal_nonce(sal, sv), SVX_NONCE_LEN);
	if (sv->n_service)
		memcpy(f->service.b, svx_sal_service(sal, sv, 0), SVX_SID_LEN);
	f->n_source = sv->n_source;
	for (i = 0; i < sv->n_source; i++)
		memcpy(f->source[i], svx_sal_source_addr(sal, sv, i), 4);
	f->created_ms = now_ms;
	f->last_ms = now_ms;
	return SVX_OK;
}

/* ------------------------------------------------------- from the TCP side */

static struct svx_result svx_translator_syn(struct svx_flow *f, const struct svx_flow_cfg *cfg,
					    const u8 *pkt, const struct svx_tcp_view *tv,
					    const u8 *sal_dst, struct svx_emit *out)
{
	struct svx_result r = { .action = SVX_ACT_CONSUMED };
	u8 sal[SVX_SAL_BASE_LEN + SVX_EXT_CONTROL_LEN + SVX_EXT_SERVICE_LEN];
	u8 th[SVX_TCP_MAX_HDR_LEN];
	struct svx_sal_spec spec;
	u16 mss;
	int len;

	if (f->state != SVX_FS_SYN_SENT) {
		/*
		 * The SYN-ACK we passed on was lost and the client retransmits
		 * its SYN. The instance answers only a duplicate SYN (section
		 * 6.3), so send the same SYN again, to the instance itself.
		 */
		if (f->state != SVX_FS_ESTABLISHED || !(f->flags & SVX_FF_HS_ACK_DUE) ||
		    svx_tcp_seq(pkt + tv->tcp_off) + 1 != f->tcp_nxt)
			return svx_drop(SVX_E_STATE);
		sal_dst = f->sal_peer_addr;
	}
	if (!sal_dst)
		return svx_drop(SVX_E_NO_ROUTE);
	f->tcp_nxt = svx_tcp_seq(pkt + tv->tcp_off) + 1;
	f->flags |= SVX_FF_TCP_SEEN;
	svx_prepare_tcp(th, pkt + tv->tcp_off, tv->tcp_hlen, 0, 0);
	svx_tcp_rewrite_options(th, tv->tcp_hlen, svx_flow_mss_cap(cfg),
				(f->flags & SVX_FF_STRIP_OPTS) ? SVX_TCPOPT_STRIP_SACK_TS : 0, &mss);
	/* The same ISS and nonce on every retransmission: it is one request. */
	svx_sal_spec_syn(&spec, f->local_flow, f->iss, f->local_nonce, &f->service);
	len = svx_sal_build(sal, sizeof(sal), &spec);
	if (len < 0 || svx_tcp_to_sal(f, cfg, out, pkt, tv, sal_dst, sal, (unsigned int)len, false, th))
		return svx_drop(SVX_E_NOSPACE);
	return r;
}

static struct svx_result svx_host_synack(struct svx_flow *f, const struct svx_flow_cfg *cfg,
					 const u8 *pkt, const struct svx_tcp_view *tv,
					 struct svx_emit *out)
{
	struct svx_result r = { .action = SVX_ACT_CONSUMED };
	u8 sal[SVX_SAL_BASE_LEN + SVX_EXT_CONTROL_LEN + SVX_EXT_SOURCE_LEN(SVX_FLOW_MAX_SOURCE + 1)];
	u8 th[SVX_TCP_MAX_HDR_LEN];
	struct svx_sal_spec spec;
	u16 mss;
	int len;

	if (f->state != SVX_FS_SYN_RECV)
		return svx_drop(SVX_E_STATE);
	f->tcp_nxt = svx_tcp_seq(pkt + tv->tcp_off) + 1;
	f->flags |= SVX_FF_TCP_SEEN;
	svx_prepare_tcp(th, pkt + tv->tcp_off, tv->tcp_hlen, 0, 0);
	svx_tcp_rewrite_options(th, tv->tcp_hlen, svx_flow_mss_cap(cfg), 0, &mss);
	svx_sal_spec_control(&spec, f->local_flow, f->peer_flow, SVX_CTL_SYN | SVX_CTL_ACK, f->iss,
			     f->rcv_nxt, f->local_nonce);
	if (f->n_source) {
		/* Echo the SYN's SOURCE and append ourselves (section 6.3). */
		memcpy(spec.source, f->source, 4 * (size_t)f->n_source);
		memcpy(spec.source[f->n_source], f->sal_local_addr, 4);
		spec.n_source = (u8)(f->n_source + 1);
	}
	len = svx_sal_build(sal, sizeof(sal), &spec);
	if (len < 0 ||
	    svx_tcp_to_sal(f, cfg, out, pkt, tv, f->sal_peer_addr, sal, (unsigned int)len, false, th))
		return svx_drop(SVX_E_NOSPACE);
	return r;
}

struct svx_result svx_flow_from_tcp(struct svx_flow *f, const struct svx_flow_cfg *cfg,
				    const u8 *pkt, const struct svx_tcp_view *tv,
				    const u8 *sal_dst, u64 now_ms, struct svx_emit *out)
{
	struct svx_result r = { .action = SVX_ACT_CONSUMED };
	const u8 *tcp = pkt + tv->tcp_off;
	u8 flags = svx_tcp_flags(tcp), th[SVX_TCP_MAX_HDR_LEN];
	u8 sal[SVX_SAL_BASE_LEN + SVX_EXT_CONTROL_LEN + SVX_EXT_SERVICE_LEN];
	u32 seq = svx_tcp_seq(tcp);
	struct svx_sal_spec spec;
	bool has_data;
	int len;

	f->last_ms = now_ms;
	f->stats.packets_in[0]++;
	f->stats.bytes_in[0] += tv->payload_len;

	if (flags & SVX_TCP_RST) {
		if (f->state == SVX_FS_CLOSED)
			return svx_drop(SVX_E_STATE);
		if (f->peer_flow)
			svx_emit_sal_ctrl(f, cfg, out, f->sal_peer_addr, SVX_CTL_RST | SVX_CTL_ACK,
					  f->snd_nxt, f->rcv_nxt);
		f->state = SVX_FS_CLOSED;
		f->ctl_pending = 0;
		r.flow_closed = true;
		return r;
	}
	if (f->state == SVX_FS_CLOSED)
		return svx_drop(SVX_E_STATE);
	if (f->role == SVX_ROLE_TRANSLATOR && (flags & (SVX_TCP_SYN | SVX_TCP_ACK)) == SVX_TCP_SYN)
		return svx_translator_syn(f, cfg, pkt, tv, sal_dst, out);
	if (f->role == SVX_ROLE_HOST &&
	    (flags & (SVX_TCP_SYN | SVX_TCP_ACK)) == (SVX_TCP_SYN | SVX_TCP_ACK))
		return svx_host_synack(f, cfg, pkt, tv, out);
	if ((flags & SVX_TCP_SYN) || f->state == SVX_FS_SYN_SENT || f->state == SVX_FS_SYN_RECV)
		return svx_drop(SVX_E_STATE);

	svx_track_seq(&f->tcp_nxt, &f->flags, SVX_FF_TCP_SEEN,
		      seq + svx_tcp_seq_len(tcp, tv->payload_len));
	if ((flags & SVX_TCP_FIN) && !(f->flags & SVX_FF_TCP_FIN)) {
		f->flags |= SVX_FF_TCP_FIN;
		f->tcp_fin_seq = seq + tv->payload_len;
		if (f->state == SVX_FS_ESTABLISHED)
			f->state = SVX_FS_CLOSING;
	}
	if ((flags & SVX_TCP_ACK) && (f->flags & SVX_FF_SAL_FIN) &&
	    !svx_seq_before(svx_tcp_ack(tcp), f->sal_fin_seq + 1))
		f->flags |= SVX_FF_SAL_FIN_ACKED;

	svx_prepare_tcp(th, tcp, tv->tcp_hlen, 0, 0);
	if (f->flags & SVX_FF_HS_ACK_DUE) {
		/*
		 * The client's first segment after the SYN-ACK completes the SAL
		 * handshake: CONTROL(ACK) + SERVICE and a TCP ACK without payload
		 * (section 6.2 step 5); any payload follows as plain data.
		 */
		f->flags &= (u16)~SVX_FF_HS_ACK_DUE;
		svx_sal_spec_handshake_ack(&spec, f->local_flow, f->peer_flow, f->snd_nxt, f->rcv_nxt,
					   f->local_nonce, &f->service);
		len = svx_sal_build(sal, sizeof(sal), &spec);
		th[13] = (u8)(flags & ~(SVX_TCP_FIN | SVX_TCP_PSH));
		if (len < 0 || svx_tcp_to_sal(f, cfg, out, pkt, tv, f->sal_peer_addr, sal,
					      (unsigned int)len, false, th))
			return svx_drop(SVX_E_NOSPACE);
		has_data = tv->payload_len || (flags & SVX_TCP_FIN);
		if (!has_data)
			return r;
		th[13] = flags;
	}
	svx_sal_build_data(sal, f->local_flow, f->peer_flow);
	if (svx_tcp_to_sal(f, cfg, out, pkt, tv, f->sal_peer_addr, sal, SVX_SAL_BASE_LEN, true, th))
		return svx_drop(SVX_E_NOSPACE);
	return r;
}

/* ------------------------------------------------------- from the SAL side */

/* The peer's IP: the last SOURCE address of a SYN-ACK, else its IP source. */
static const u8 *svx_synack_peer(const u8 *pkt, const struct svx_pkt_view *pv)
{
	const struct svx_sal_view *sv = &pv->sal;

	if (sv->n_source)
		return svx_sal_source_addr(pkt + pv->sal_off, sv, sv->n_source - 1u);
	return svx_ip_saddr(pkt);
}

static struct svx_result svx_sal_synack(struct svx_flow *f, const struct svx_flow_cfg *cfg,
					const u8 *pkt, const struct svx_pkt_view *pv,
					struct svx_emit *out)
{
	struct svx_result r = { .action = SVX_ACT_CONSUMED };
	const u8 *sal = pkt + pv->sal_off;
	const struct svx_sal_view *sv = &pv->sal;
	const u8 *tcp = pkt + pv->l4_off;
	u8 th[SVX_TCP_MAX_HDR_LEN];
	u16 mss;

	if (!pv->l4_hlen || sv->protocol != SVX_IPPROTO_TCP ||
	    (svx_tcp_flags(tcp) & (SVX_TCP_SYN | SVX_TCP_ACK)) != (SVX_TCP_SYN | SVX_TCP_ACK))
		return svx_drop(SVX_E_L4_HDR_LEN);
	if (f->state == SVX_FS_SYN_SENT) {
		if (svx_sal_ackno(sal, sv) != f->iss + 1)
			return svx_drop(SVX_E_VERNO);
		f->peer_flow = svx_sal_src_flow(sal);
		memcpy(f->peer_nonce, svx_sal_nonce(sal, sv), SVX_NONCE_LEN);
		f->peer_iss = svx_sal_verno(sal, sv);
		f->rcv_nxt = f->peer_iss + 1;
		f->snd_una = f->iss + 1;
		memcpy(f->sal_peer_addr, svx_synack_peer(pkt, pv), 4);
		memcpy(f->sal_local_addr, svx_ip_daddr(pkt), 4);
		f->state = SVX_FS_ESTABLISHED;
		r.established = true;
	} else if (svx_sal_src_flow(sal) != f->peer_flow) {
		/*
		 * A SYN retransmission reached a second instance (section 19.5):
		 * reset that instance's half-open connection, keep ours.
		 */
		struct svx_flow other = *f;

		other.peer_flow = svx_sal_src_flow(sal);
		svx_emit_sal_ctrl(&other, cfg, out, svx_synack_peer(pkt, pv),
				  SVX_CTL_RST | SVX_CTL_ACK, f->snd_nxt,
				  svx_sal_verno(sal, sv) + 1);
		f->stats.packets_out = other.stats.packets_out;
		return svx_drop(SVX_E_STATE);
	}
	/* First or duplicate SYN-ACK: the client (re)acknowledges it, and that
	 * ACK (re)completes the SAL handshake.
	 */
	f->flags |= SVX_FF_HS_ACK_DUE;
	f->sal_nxt = svx_tcp_seq(tcp) + 1;
	f->flags |= SVX_FF_SAL_SEEN;
	svx_prepare_tcp(th, tcp, pv->l4_hlen, f->tcp_self_port, f->tcp_remote_port);
	svx_tcp_rewrite_options(th, pv->l4_hlen, svx_flow_mss_cap(cfg),
				(f->flags & SVX_FF_STRIP_OPTS) ? SVX_TCPOPT_STRIP_SACK_TS : 0, &mss);
	if (svx_sal_to_tcp(f, cfg, out, pkt, pv, th))
		return svx_drop(SVX_E_NOSPACE);
	return r;
}

/* Host agent: the SYN (first or duplicate) goes to the local server. */
static struct svx_result svx_sal_syn(struct svx_flow *f, const struct svx_flow_cfg *cfg,
				     const u8 *pkt, const struct svx_pkt_view *pv,
				     struct svx_emit *out)
{
	struct svx_result r = { .action = SVX_ACT_CONSUMED };
	const u8 *tcp = pkt + pv->l4_off;
	u8 th[SVX_TCP_MAX_HDR_LEN];
	u16 mss;

	if (f->role != SVX_ROLE_HOST || f->state != SVX_FS_SYN_RECV ||
	    svx_sal_src_flow(pkt + pv->sal_off) != f->peer_flow)
		return svx_drop(SVX_E_STATE);
	if (!pv->l4_hlen || pv->sal.protocol != SVX_IPPROTO_TCP ||
	    (svx_tcp_flags(tcp) & (SVX_TCP_SYN | SVX_TCP_ACK)) != SVX_TCP_SYN)
		return svx_drop(SVX_E_L4_HDR_LEN);
	f->sal_nxt = svx_tcp_seq(tcp) + 1;
	f->flags |= SVX_FF_SAL_SEEN;
	svx_prepare_tcp(th, tcp, pv->l4_hlen, f->tcp_self_port, f->tcp_remote_port);
	svx_tcp_rewrite_options(th, pv->l4_hlen, svx_flow_mss_cap(cfg), 0, &mss);
	if (svx_sal_to_tcp(f, cfg, out, pkt, pv, th))
		return svx_drop(SVX_E_NOSPACE);
	return r;
}

/*
 * CONTROL processing once connected (sections 5.3, 6.6, 6.8, 7). Returns
 * false when the packet is finished with (dropped or fully handled).
 */
static bool svx_sal_control(struct svx_flow *f, const struct svx_flow_cfg *cfg, const u8 *pkt,
			    const struct svx_pkt_view *pv, u64 now_ms, struct svx_emit *out,
			    struct svx_result *r)
{
	const u8 *sal = pkt + pv->sal_off;
	const struct svx_sal_view *sv = &pv->sal;
	u8 flags = sv->flags;
	u32 verno = svx_sal_verno(sal, sv), ackno = svx_sal_ackno(sal, sv);
	bool acceptable = !svx_seq_before(verno, f->rcv_nxt) || flags == SVX_CTL_ACK ||
			  flags == (SVX_CTL_RSYN | SVX_CTL_ACK);

	if (flags & SVX_CTL_RST) {
		/* Processed before any nonce check, as the reference does. */
		if (!acceptable) {
			*r = svx_drop(SVX_E_VERNO);
			return false;
		}
		if (f->state != SVX_FS_TIME_WAIT)
			svx_emit_tcp_rst(f, cfg, out);
		f->state = SVX_FS_CLOSED;
		f->ctl_pending = 0;
		r->flow_closed = true;
		return false;
	}
	if (!acceptable) {
		/* Old or duplicate control packet: re-acknowledge (e.g. a FIN),
		 * which also sends an ACK we were delaying.
		 */
		svx_send_ack(f, cfg, out);
		r->reason = SVX_E_VERNO;
		return false;
	}
	if (memcmp(svx_sal_nonce(sal, sv), f->peer_nonce, SVX_NONCE_LEN)) {
		*r = svx_drop(SVX_E_NONCE);
		return false;
	}
	if (flags & SVX_CTL_ACK) {
		if (svx_seq_after(ackno, f->snd_una) && !svx_seq_after(ackno, f->snd_nxt))
			f->snd_una = ackno;
		if ((f->ctl_pending & SVX_CTL_FIN) && svx_seq_after(ackno, f->ctl_verno)) {
			f->ctl_pending = 0;
			f->flags |= SVX_FF_OUR_SALFIN_ACKED;
		}
		if ((f->flags & SVX_FF_MIGRATING) && !(flags & SVX_CTL_RSYN)) {
			/* The mobile peer confirmed our RSYN-ACK: switch (section 7.4). */
			memcpy(f->sal_peer_addr, f->sal_new_peer_addr, 4);
			f->flags &= (u16)~SVX_FF_MIGRATING;
			if (f->ctl_pending == (SVX_CTL_RSYN | SVX_CTL_ACK))
				f->ctl_pending = 0;
		}
	}
	if ((flags & SVX_CTL_RSYN) && !(flags & SVX_CTL_ACK)) {
		f->rcv_nxt = verno + 1;
		memcpy(f->sal_new_peer_addr, svx_ip_saddr(pkt), 4);
		f->flags |= SVX_FF_MIGRATING;
		if (!f->ctl_pending || f->ctl_pending == SVX_CTL_ACK) {
			f->ctl_pending = SVX_CTL_RSYN | SVX_CTL_ACK;
			f->ctl_verno = f->snd_nxt;
			f->retrans = 0;
			f->rto_ms = cfg->rto_initial_ms;
			f->rto_deadline_ms = now_ms + f->rto_ms;
		}
		svx_emit_sal_ctrl(f, cfg, out, f->sal_new_peer_addr, SVX_CTL_RSYN | SVX_CTL_ACK,
				  f->snd_nxt, f->rcv_nxt);
	}
	if (flags & SVX_CTL_FIN) {
		f->rcv_nxt = verno + 1;
		f->flags |= SVX_FF_PEER_SALFIN;
		if (f->state == SVX_FS_ESTABLISHED)
			f->state = SVX_FS_CLOSING;
		if (!(f->flags & SVX_FF_OUR_SALFIN) && !f->ctl_pending && cfg->fin_ack_delay_ms) {
			/* Our SAL FIN usually follows within a round trip (the
			 * TCP side closes in turn): it will carry this ACK, one
			 * packet less per connection. The tick sends the ACK
			 * alone if it does not.
			 */
			f->ctl_pending = SVX_CTL_ACK;
			f->rto_deadline_ms = now_ms + cfg->fin_ack_delay_ms;
		} else {
			svx_send_ack(f, cfg, out);
		}
	}
	svx_check_closed(f, r);
	return true;
}

/* Host agent in SYN_RECV: the handshake ACK (or, leniently, data that
 * proves the client completed it) establishes the flow.
 */
static bool svx_host_handshake(struct svx_flow *f, const u8 *pkt, const struct svx_pkt_view *pv,
			       struct svx_result *r)
{
	const u8 *sal = pkt + pv->sal_off;
	const struct svx_sal_view *sv = &pv->sal;

	if (sv->ctrl_off) {
		if ((sv->flags & (SVX_CTL_SYN | SVX_CTL_ACK | SVX_CTL_RST)) != SVX_CTL_ACK) {
			*r = svx_drop(SVX_E_STATE);
			return false;
		}
		if (memcmp(svx_sal_nonce(sal, sv), f->peer_nonce, SVX_NONCE_LEN)) {
			*r = svx_drop(SVX_E_NONCE);
			return false;
		}
		if (svx_sal_verno(sal, sv) != f->rcv_nxt || svx_sal_ackno(sal, sv) != f->iss + 1) {
			*r = svx_drop(SVX_E_VERNO);
			return false;
		}
		f->snd_una = f->iss + 1;
	}
	/* On entering CONNECTED the peer becomes the ACK's IP source (6.3). */
	memcpy(f->sal_peer_addr, svx_ip_saddr(pkt), 4);
	f->state = SVX_FS_ESTABLISHED;
	r->established = true;
	return true;
}

struct svx_result svx_flow_from_sal(struct svx_flow *f, const struct svx_flow_cfg *cfg,
				    const u8 *pkt, const struct svx_pkt_view *pv, u64 now_ms,
				    struct svx_emit *out)
{
	struct svx_result r = { .action = SVX_ACT_CONSUMED };
	const struct svx_sal_view *sv = &pv->sal;
	const u8 *tcp = pkt + pv->l4_off;
	u8 ctl = sv->ctrl_off ? sv->flags : 0, flags, th[SVX_TCP_MAX_HDR_LEN];
	u32 seq, plen;

	f->last_ms = now_ms;
	f->stats.packets_in[1]++;
	if (pv->l4_hlen)
		f->stats.bytes_in[1] += (u64)(pv->l4_len - pv->l4_hlen);

	if (f->state == SVX_FS_CLOSED)
		return svx_drop(SVX_E_STATE);
	if ((ctl & (SVX_CTL_SYN | SVX_CTL_ACK)) == SVX_CTL_SYN)
		return svx_sal_syn(f, cfg, pkt, pv, out);
	if ((ctl & (SVX_CTL_SYN | SVX_CTL_ACK)) == (SVX_CTL_SYN | SVX_CTL_ACK)) {
		if (f->role != SVX_ROLE_TRANSLATOR)
			return svx_drop(SVX_E_STATE);
		return svx_sal_synack(f, cfg, pkt, pv, out);
	}
	if (f->state == SVX_FS_SYN_SENT) {
		if (ctl & SVX_CTL_RST) {
			/* Refused before the handshake: refuse the client's SYN. */
			svx_emit_tcp_rst(f, cfg, out);
			f->state = SVX_FS_CLOSED;
			r.flow_closed = true;
			return r;
		}
		return svx_drop(SVX_E_STATE);
	}
	if (f->state == SVX_FS_SYN_RECV) {
		if (ctl & SVX_CTL_RST) {
			svx_emit_tcp_rst(f, cfg, out);
			f->state = SVX_FS_CLOSED;
			r.flow_closed = true;
			return r;
		}
		if (!svx_host_handshake(f, pkt, pv, &r))
			return r;
	} else if (sv->ctrl_off && !svx_sal_control(f, cfg, pkt, pv, now_ms, out, &r)) {
		return r;
	}
	if (!pv->l4_hlen)
		return r;
	if (sv->protocol != SVX_IPPROTO_TCP)
		return svx_drop(SVX_E_L4_PROTO);

	flags = svx_tcp_flags(tcp);
	seq = svx_tcp_seq(tcp);
	plen = (u32)(pv->l4_len - pv->l4_hlen);
	svx_track_seq(&f->sal_nxt, &f->flags, SVX_FF_SAL_SEEN, seq + svx_tcp_seq_len(tcp, plen));
	if ((flags & SVX_TCP_FIN) && !(f->flags & SVX_FF_SAL_FIN)) {
		f->flags |= SVX_FF_SAL_FIN;
		f->sal_fin_seq = seq + plen;
		if (f->state == SVX_FS_ESTABLISHED)
			f->state = SVX_FS_CLOSING;
	}
	if ((flags & SVX_TCP_ACK) && (f->flags & SVX_FF_TCP_FIN) &&
	    !(f->flags & SVX_FF_TCP_FIN_ACKED) && !svx_seq_before(svx_tcp_ack(tcp), f->tcp_fin_seq + 1)) {
		/* Our side's TCP FIN is acknowledged: now the SAL FIN (6.6). */
		f->flags |= SVX_FF_TCP_FIN_ACKED;
		if (!(f->flags & SVX_FF_OUR_SALFIN))
			svx_send_our_fin(f, cfg, now_ms, out);
	}
	if (flags & SVX_TCP_RST) {
		f->state = SVX_FS_CLOSED;
		f->ctl_pending = 0;
		r.flow_closed = true;
	}
	svx_prepare_tcp(th, tcp, pv->l4_hlen, f->tcp_self_port, f->tcp_remote_port);
	if (svx_sal_to_tcp(f, cfg, out, pkt, pv, th))
		return svx_drop(SVX_E_NOSPACE);
	return r;
}

/* ------------------------------------------------------------------ ICMP */

enum svx_err svx_icmp_inner_sal_flow(const u8 *icmp, size_t len, u32 *src_flow)
{
	const u8 *inner = icmp + SVX_ICMP_HDR_LEN;
	unsigned int ihl;

	if (len < SVX_ICMP_HDR_LEN + SVX_IPV4_HDR_LEN)
		return SVX_E_L4_TRUNCATED;
	if (inner[0] >> 4 != 4)
		return SVX_E_IP_VERSION;
	ihl = (unsigned int)(inner[0] & 0xf) * 4;
	if (ihl < SVX_IPV4_HDR_LEN || len < SVX_ICMP_HDR_LEN + ihl + 8)
		return SVX_E_L4_TRUNCATED;
	if (inner[9] != SVX_IPPROTO_SAL)
		return SVX_E_NOT_SAL;
	*src_flow = svx_get_be32(inner + ihl);
	return SVX_OK;
}

struct svx_result svx_flow_from_icmp(struct svx_flow *f, const struct svx_flow_cfg *cfg,
				     const u8 *icmp, size_t len, u64 now_ms,
				     struct svx_emit *out)
{
	struct svx_result r = { .action = SVX_ACT_CONSUMED };
	const u8 *inner = icmp + SVX_ICMP_HDR_LEN, *inner_tcp;
	/* ICMP header + inner IPv4 header + the first 8 bytes of TCP. */
	const u32 out_len = SVX_IPV4_HDR_LEN + SVX_ICMP_HDR_LEN + SVX_IPV4_HDR_LEN + 8;
	unsigned int ihl, inner_sal_len;
	struct svx_ipv4_spec ip;
	u32 seq = f->tcp_nxt;
	u16 mtu = 0;
	u8 *p, *ic, *in;
	u32 src_flow;

	if (svx_icmp_inner_sal_flow(icmp, len, &src_flow) != SVX_OK || src_flow != f->local_flow)
		return svx_drop(SVX_E_NO_FLOW);
	if (icmp[0] != SVX_ICMP_DEST_UNREACH)
		return svx_drop(SVX_E_INVAL);
	f->last_ms = now_ms;
	ihl = (unsigned int)(inner[0] & 0xf) * 4;
	/* Routers quote at least 8 bytes; Linux quotes far more, enough to
	 * reach the inner TCP sequence number behind the SAL header.
	 */
	/* The SHL byte is only there when the whole base header was quoted. */
	if (len >= SVX_ICMP_HDR_LEN + ihl + SVX_SAL_BASE_LEN) {
		inner_sal_len = (unsigned int)inner[ihl + 8] * 4;
		if (inner_sal_len >= SVX_SAL_BASE_LEN &&
		    len >= SVX_ICMP_HDR_LEN + ihl + inner_sal_len + 8) {
			inner_tcp = inner + ihl + inner_sal_len;
			seq = svx_tcp_seq(inner_tcp);
		}
	}
	if (icmp[1] == SVX_ICMP_FRAG_NEEDED) {
		mtu = svx_get_be16(icmp + 6);
		if (mtu < SVX_ICMP_MIN_MTU + SVX_SAL_BASE_LEN)
			return svx_drop(SVX_E_INVAL);
		/* The TCP side's packets grow by the SAL base header. */
		mtu = (u16)(mtu - SVX_SAL_BASE_LEN);
	}
	p = svx_emit_alloc(out, out_len);
	if (!p)
		return svx_drop(SVX_E_NOSPACE);
	memset(&ip, 0, sizeof(ip));
	memcpy(ip.saddr, f->tcp_self_addr, 4);
	memcpy(ip.daddr, f->tcp_remote_addr, 4);
	ip.protocol = 1;
	ip.ttl = cfg->ttl;
	svx_ipv4_build(p, &ip, (u16)out_len);
	ic = p + SVX_IPV4_HDR_LEN;
	memset(ic, 0, SVX_ICMP_HDR_LEN);
	ic[0] = SVX_ICMP_DEST_UNREACH;
	ic[1] = icmp[1];
	svx_put_be16(ic + 6, mtu);
	/* The quoted packet as the TCP side sent it: remote -> self. */
	in = ic + SVX_ICMP_HDR_LEN;
	memcpy(ip.saddr, f->tcp_remote_addr, 4);
	memcpy(ip.daddr, f->tcp_self_addr, 4);
	ip.protocol = SVX_IPPROTO_TCP;
	ip.df = true;
	svx_ipv4_build(in, &ip, (u16)(svx_get_be16(inner + 2) - SVX_SAL_BASE_LEN));
	svx_put_be16(in + SVX_IPV4_HDR_LEN, f->tcp_remote_port);
	svx_put_be16(in + SVX_IPV4_HDR_LEN + 2, f->tcp_self_port);
	svx_put_be32(in + SVX_IPV4_HDR_LEN + 4, seq);
	svx_put_be16(ic + 2, svx_csum(ic, out_len - SVX_IPV4_HDR_LEN));
	svx_emit_commit(out, out_len);
	f->stats.packets_out++;
	return r;
}

/* ------------------------------------------------------------ timers, RST */

bool svx_flow_tick(struct svx_flow *f, const struct svx_flow_cfg *cfg, u64 now_ms,
		   struct svx_emit *out)
{
	const u8 *dst;

	if (!f->ctl_pending || now_ms < f->rto_deadline_ms)
		return false;
	if (f->ctl_pending == SVX_CTL_ACK) {
		/* The delayed ACK of the peer's FIN, alone after all. */
		svx_send_ack(f, cfg, out);
		return false;
	}
	if (f->retrans >= cfg->max_retrans) {
		svx_flow_abort(f, cfg, out);
		return true;
	}
	f->retrans++;
	f->rto_ms = f->rto_ms * 2 > cfg->rto_max_ms ? cfg->rto_max_ms : f->rto_ms * 2;
	f->rto_deadline_ms = now_ms + f->rto_ms;
	dst = (f->ctl_pending & SVX_CTL_RSYN) ? f->sal_new_peer_addr : f->sal_peer_addr;
	svx_emit_sal_ctrl(f, cfg, out, dst, f->ctl_pending, f->ctl_verno, f->rcv_nxt);
	return false;
}

void svx_flow_abort(struct svx_flow *f, const struct svx_flow_cfg *cfg, struct svx_emit *out)
{
	if (f->state == SVX_FS_CLOSED || f->state == SVX_FS_TIME_WAIT) {
		f->state = SVX_FS_CLOSED;
		return;
	}
	if (f->peer_flow)
		svx_emit_sal_ctrl(f, cfg, out, f->sal_peer_addr, SVX_CTL_RST | SVX_CTL_ACK,
				  f->snd_nxt, f->rcv_nxt);
	if (f->flags & SVX_FF_TCP_SEEN)
		svx_emit_tcp_rst(f, cfg, out);
	f->state = SVX_FS_CLOSED;
	f->ctl_pending = 0;
}

bool svx_emit_passive_rst(const u8 *pkt, const struct svx_pkt_view *pv, u8 ttl,
			  struct svx_emit *out)
{
	const u32 len = SVX_IPV4_HDR_LEN + SVX_SAL_BASE_LEN + SVX_EXT_CONTROL_LEN;
	struct svx_sal_spec spec;
	struct svx_ipv4_spec ip;
	u8 *p;

	if (svx_sal_spec_passive_rst(&spec, pkt + pv->sal_off, &pv->sal) != SVX_OK)
		return false;
	p = svx_emit_alloc(out, len);
	if (!p)
		return false;
	memset(&ip, 0, sizeof(ip));
	memcpy(ip.saddr, svx_ip_daddr(pkt), 4);
	memcpy(ip.daddr, svx_ip_saddr(pkt), 4);
	ip.protocol = SVX_IPPROTO_SAL;
	ip.ttl = ttl;
	svx_ipv4_build(p, &ip, (u16)len);
	svx_sal_build(p + SVX_IPV4_HDR_LEN, len - SVX_IPV4_HDR_LEN, &spec);
	svx_emit_commit(out, len);
	return true;
}

bool svx_emit_tcp_reset_reply(const u8 *pkt, const struct svx_tcp_view *tv, u8 ttl,
			      struct svx_emit *out)
{
	const u32 len = SVX_IPV4_HDR_LEN + SVX_TCP_HDR_LEN;
	const u8 *tcp = pkt + tv->tcp_off;
	u8 flags = svx_tcp_flags(tcp), *p, *th;
	struct svx_ipv4_spec ip;

	if (flags & SVX_TCP_RST)
		return false;
	p = svx_emit_alloc(out, len);
	if (!p)
		return false;
	memset(&ip, 0, sizeof(ip));
	memcpy(ip.saddr, svx_ip_daddr(pkt), 4);
	memcpy(ip.daddr, svx_ip_saddr(pkt), 4);
	ip.protocol = SVX_IPPROTO_TCP;
	ip.ttl = ttl;
	ip.df = true;
	svx_ipv4_build(p, &ip, (u16)len);
	th = p + SVX_IPV4_HDR_LEN;
	memset(th, 0, SVX_TCP_HDR_LEN);
	svx_put_be16(th, svx_get_be16(tcp + 2));
	svx_put_be16(th + 2, svx_get_be16(tcp));
	if (flags & SVX_TCP_ACK) {
		svx_put_be32(th + 4, svx_tcp_ack(tcp));
		th[13] = SVX_TCP_RST;
	} else {
		svx_put_be32(th + 8, svx_tcp_seq(tcp) + svx_tcp_seq_len(tcp, tv->payload_len));
		th[13] = SVX_TCP_RST | SVX_TCP_ACK;
	}
	th[12] = (SVX_TCP_HDR_LEN / 4) << 4;
	svx_put_be16(th + 16, svx_csum_l4_ipv4(ip.saddr, ip.daddr, SVX_IPPROTO_TCP, th,
					       SVX_TCP_HDR_LEN));
	svx_emit_commit(out, len);
	return true;
}
