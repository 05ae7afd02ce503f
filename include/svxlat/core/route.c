// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "../route.h"
#include "../csum.h"
#include "../sal.h"

/* The high 64 bits of a * b, without 128-bit arithmetic. */
static u64 svx_mul_hi64(u64 a, u64 b)
{
	u64 a_lo = a & 0xffffffffu, a_hi = a >> 32;
	u64 b_lo = b & 0xffffffffu, b_hi = b >> 32;
	u64 lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi;
	u64 cross = (lo_lo >> 32) + (hi_lo & 0xffffffffu) + lo_hi;

	return a_hi * b_hi + (hi_lo >> 32) + (cross >> 32);
}

int svx_route_pick(const struct svx_route_target *t, u32 n, u64 now, u64 random)
{
	u32 i, top = 0;
	u64 total = 0, point;
	bool any = false;

	for (i = 0; i < n; i++) {
		if (!svx_route_target_live(&t[i], now))
			continue;
		if (!any || t[i].priority > top) {
			top = t[i].priority;
			total = 0;
			any = true;
		}
		if (t[i].priority == top)
			total += t[i].weight;
	}
	if (!any || total == 0)
		return -1;
	/* floor(random * total / 2^64): a uniform point in [0, total). */
	point = svx_mul_hi64(random, total);
	for (i = 0; i < n; i++) {
		if (!svx_route_target_live(&t[i], now) || t[i].priority != top)
			continue;
		if (point < t[i].weight)
			return (int)i;
		point -= t[i].weight;
	}
	return -1;	/* not reached: point < total */
}

int svx_route_entry_cmp(const struct svx_route_entry *a, const struct svx_route_entry *b)
{
	if (a->bits != b->bits)
		return a->bits > b->bits ? -1 : 1;
	return svx_sid_cmp(&a->prefix, &b->prefix);
}

enum svx_err svx_route_table_check(const struct svx_route_table *t)
{
	u32 i, k;

	if (t->n_entries && (!t->entries || !t->targets))
		return SVX_E_INVAL;
	for (i = 0; i < t->n_entries; i++) {
		const struct svx_route_entry *e = &t->entries[i];
		struct svx_sid masked = e->prefix;

		if (e->bits > SVX_SID_BITS || e->n_targets == 0 || e->first > t->n_targets ||
		    e->n_targets > t->n_targets - e->first)
			return SVX_E_INVAL;
		svx_sid_mask(&masked, e->bits);
		if (svx_sid_cmp(&masked, &e->prefix) != 0)
			return SVX_E_INVAL;
		if (i && svx_route_entry_cmp(&t->entries[i - 1], e) >= 0)
			return SVX_E_INVAL;
		for (k = 0; k < e->n_targets; k++)
			if (t->targets[e->first + k].weight == 0)
				return SVX_E_INVAL;
	}
	return SVX_OK;
}

/* First index in [lo, n) whose prefix is shorter than bits. */
static u32 svx_route_group_end(const struct svx_route_table *t, u32 lo, u16 bits)
{
	u32 hi = t->n_entries;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (t->entries[mid].bits >= bits)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The entry equal to key (prefix and bits) among entries [lo, hi), or NULL. */
static const struct svx_route_entry *svx_route_search(const struct svx_route_table *t, u32 lo,
						      u32 hi, const struct svx_route_entry *key)
{
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		int c = svx_route_entry_cmp(key, &t->entries[mid]);

		if (c == 0)
			return &t->entries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct svx_route_entry *svx_route_find(const struct svx_route_table *t,
					     const struct svx_sid *prefix, u16 bits)
{
	struct svx_route_entry key = { .prefix = *prefix, .bits = bits };

	return svx_route_search(t, 0, t->n_entries, &key);
}

const struct svx_route_entry *svx_route_lookup(const struct svx_route_table *t,
					       const struct svx_sid *id)
{
	struct svx_route_entry key = { .prefix = *id };
	const struct svx_route_entry *e;
	u32 start = 0;

	while (start < t->n_entries) {
		u32 end;

		key.bits = t->entries[start].bits;
		end = svx_route_group_end(t, start, key.bits);
		/* Lengths descend, so masking again only clears more bits. */
		svx_sid_mask(&key.prefix, key.bits);
		e = svx_route_search(t, start, end, &key);
		if (e)
			return e;
		start = end;
	}
	return NULL;
}

enum svx_route_status svx_route_resolve(const struct svx_route_table *t,
					const struct svx_sid *id, u64 now, u64 random,
					u8 target[4])
{
	const struct svx_route_entry *e = svx_route_lookup(t, id);
	int i;

	if (!e)
		return SVX_ROUTE_NO_ENTRY;
	i = svx_route_pick(t->targets + e->first, e->n_targets, now, random);
	if (i < 0)
		return SVX_ROUTE_NO_LIVE_TARGET;
	memcpy(target, t->targets[e->first + (u32)i].addr, 4);
	return SVX_ROUTE_OK;
}

bool svx_router_is_registration(const u8 *pkt, const struct svx_pkt_view *v,
				const struct svx_sid *router_id)
{
	const u8 *sid;

	if (v->sal.ctrl_off || v->sal.protocol != SVX_IPPROTO_UDP || v->sal.n_service != 2)
		return false;
	sid = svx_sal_service(pkt + v->sal_off, &v->sal, 0);
	return sid && memcmp(sid, router_id->b, SVX_SID_LEN) == 0;
}

int svx_router_forward(u8 *pkt, size_t cap, struct svx_pkt_view *v, const u8 target[4])
{
	struct svx_pkt_view nv = *v;
	u8 orig_src[4], hop[4];
	u16 new_len;
	int sal_len;

	if (cap < v->ip_len || v->sal_off > v->ip_len)
		return -SVX_E_IP_TOT_LEN;
	if (pkt[8] <= 1)
		return -SVX_E_TTL;
	/* Grows by 12 (a new SOURCE) or 4 (one more hop); never past 65535. */
	if ((size_t)v->ip_len + (v->sal.source_off ? 4u : SVX_EXT_SOURCE_LEN(2)) > 0xffff)
		return -SVX_E_NOSPACE;
	memcpy(orig_src, svx_ip_saddr(pkt), 4);
	memcpy(hop, svx_ip_daddr(pkt), 4);	/* the router's address it was sent to */
	sal_len = svx_sal_source_append(pkt + v->sal_off, v->ip_len - v->sal_off,
					cap - v->sal_off, &nv.sal, orig_src, hop);
	if (sal_len < 0)
		return sal_len;
	new_len = (u16)(v->sal_off + (unsigned int)sal_len);
	nv.l4_off = (u16)(v->l4_off + (new_len - v->ip_len));
	nv.ip_len = new_len;

	memcpy(pkt + 16, target, 4);
	pkt[8] = (u8)(pkt[8] - 1);
	svx_put_be16(pkt + 2, new_len);
	if (nv.l4_hlen)
		svx_pkt_fill_l4_csum(pkt, &nv);
	if (nv.udp_encap) {
		/* Section 12 step 6: same ports, new length, outer checksum again. */
		u8 *udp = pkt + nv.ip_hlen;
		u16 udp_len = (u16)(new_len - nv.ip_hlen), sum;

		svx_put_be16(udp + 4, udp_len);
		udp[6] = 0;
		udp[7] = 0;
		sum = svx_csum_l4_ipv4(svx_ip_saddr(pkt), svx_ip_daddr(pkt), SVX_IPPROTO_UDP, udp,
				       udp_len);
		svx_put_be16(udp + 6, sum == 0 ? 0xffff : sum);
	}
	svx_ipv4_fill_csum(pkt);
	*v = nv;
	return new_len;
}
