// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "../pkt.h"
#include "../csum.h"

static bool svx_is_encap_port(u16 port)
{
	return port == SVX_UDP_ENCAP_CLIENT_PORT || port == SVX_UDP_ENCAP_SERVER_PORT;
}

static enum svx_err svx_parse_transport(const u8 *pkt, unsigned int opts, struct svx_pkt_view *v)
{
	const u8 *l4 = pkt + v->l4_off;
	u8 proto = v->sal.protocol;
	unsigned int hlen;

	if (v->l4_len == 0)
		return SVX_OK;	/* control-only packets carry no transport */
	if (proto == SVX_IPPROTO_TCP) {
		if (v->l4_len < SVX_TCP_HDR_LEN)
			return SVX_E_L4_TRUNCATED;
		hlen = (unsigned int)(l4[12] >> 4) * 4;
		if (hlen < SVX_TCP_HDR_LEN || hlen > v->l4_len)
			return SVX_E_L4_HDR_LEN;
	} else if (proto == SVX_IPPROTO_UDP) {
		if (v->l4_len < SVX_UDP_HDR_LEN)
			return SVX_E_L4_TRUNCATED;
		hlen = SVX_UDP_HDR_LEN;
		if (svx_get_be16(l4 + 4) != v->l4_len)
			return SVX_E_L4_HDR_LEN;
	} else {
		return SVX_E_L4_PROTO;
	}
	v->l4_hlen = (u16)hlen;
	/*
	 * Inner checksums of UDP-encapsulated SAL are not re-verified (13). A
	 * zero UDP checksum means "none" (RFC 768): the reference sends that in
	 * connected Serval UDP SYN-ACKs and ACKs (reference captures).
	 */
	if ((opts & SVX_PKT_VERIFY_L4_CSUM) && !v->udp_encap &&
	    !(proto == SVX_IPPROTO_UDP && svx_get_be16(l4 + 6) == 0) &&
	    svx_csum_l4_ipv4(svx_ip_saddr(pkt), svx_ip_daddr(pkt), proto, l4, v->l4_len) != 0)
		return SVX_E_L4_CSUM;
	return SVX_OK;
}

enum svx_err svx_ipv4_parse(const u8 *pkt, size_t len, unsigned int opts, unsigned int *hlen,
			    unsigned int *tot_len)
{
	unsigned int h, tot;

	if (len < SVX_IPV4_HDR_LEN)
		return SVX_E_IP_TRUNCATED;
	if (pkt[0] >> 4 != 4)
		return SVX_E_IP_VERSION;
	h = (unsigned int)(pkt[0] & 0xf) * 4;
	if (h < SVX_IPV4_HDR_LEN || h > len)
		return SVX_E_IP_HDR_LEN;
	tot = svx_get_be16(pkt + 2);
	if (tot < h || tot > len)
		return SVX_E_IP_TOT_LEN;
	if ((opts & SVX_PKT_VERIFY_IP_CSUM) && svx_csum(pkt, h) != 0)
		return SVX_E_IP_CSUM;
	if (svx_get_be16(pkt + 6) & (SVX_IPV4_MF | SVX_IPV4_OFFMASK))
		return SVX_E_IP_FRAGMENT;
	*hlen = h;
	*tot_len = tot;
	return SVX_OK;
}

enum svx_err svx_pkt_parse(const u8 *pkt, size_t len, unsigned int opts, struct svx_pkt_view *v)
{
	unsigned int hlen, tot, off;
	enum svx_err err;

	memset(v, 0, sizeof(*v));
	err = svx_ipv4_parse(pkt, len, opts, &hlen, &tot);
	if (err)
		return err;
	v->ip_hlen = (u16)hlen;
	v->ip_len = (u16)tot;
	v->ip_proto = pkt[9];

	off = hlen;
	if (v->ip_proto == SVX_IPPROTO_UDP && (opts & SVX_PKT_UDP_ENCAP)) {
		const u8 *udp = pkt + off;

		if (tot - off < SVX_UDP_HDR_LEN)
			return SVX_E_NOT_SAL;
		if (!svx_is_encap_port(svx_get_be16(udp)) && !svx_is_encap_port(svx_get_be16(udp + 2)))
			return SVX_E_NOT_SAL;
		if (svx_get_be16(udp + 4) != tot - off)
			return SVX_E_L4_HDR_LEN;
		if ((opts & SVX_PKT_VERIFY_L4_CSUM) && svx_get_be16(udp + 6) &&
		    svx_csum_l4_ipv4(svx_ip_saddr(pkt), svx_ip_daddr(pkt), SVX_IPPROTO_UDP, udp,
				     tot - off) != 0)
			return SVX_E_L4_CSUM;
		v->udp_encap = true;
		off += SVX_UDP_HDR_LEN;
	} else if (v->ip_proto != SVX_IPPROTO_SAL) {
		return SVX_E_NOT_SAL;
	}
	v->sal_off = (u16)off;
	err = svx_sal_parse(pkt + off, tot - off, opts & SVX_SAL_PARSE_NO_CSUM, &v->sal);
	if (err)
		return err;
	v->l4_off = (u16)(off + v->sal.len);
	v->l4_len = (u16)(tot - v->l4_off);
	return svx_parse_transport(pkt, opts, v);
}

void svx_ipv4_fill_csum(u8 *pkt)
{
	unsigned int hlen = (unsigned int)(pkt[0] & 0xf) * 4;

	pkt[10] = 0;
	pkt[11] = 0;
	svx_put_be16(pkt + 10, svx_csum(pkt, hlen));
}

void svx_ipv4_build(u8 hdr[SVX_IPV4_HDR_LEN], const struct svx_ipv4_spec *s, u16 tot_len)
{
	hdr[0] = 0x45;
	hdr[1] = s->tos;
	svx_put_be16(hdr + 2, tot_len);
	svx_put_be16(hdr + 4, s->id);
	svx_put_be16(hdr + 6, s->df ? SVX_IPV4_DF : 0);
	hdr[8] = s->ttl;
	hdr[9] = s->protocol;
	memcpy(hdr + 12, s->saddr, 4);
	memcpy(hdr + 16, s->daddr, 4);
	svx_ipv4_fill_csum(hdr);
}

enum svx_err svx_pkt_fill_l4_csum(u8 *pkt, const struct svx_pkt_view *v)
{
	u8 *l4 = pkt + v->l4_off;
	u8 *check;
	u16 sum;

	if (!v->l4_hlen)
		return SVX_E_L4_PROTO;
	check = l4 + (v->sal.protocol == SVX_IPPROTO_TCP ? 16 : 6);
	check[0] = 0;
	check[1] = 0;
	sum = svx_csum_l4_ipv4(svx_ip_saddr(pkt), svx_ip_daddr(pkt), v->sal.protocol, l4, v->l4_len);
	/* UDP sends a computed zero as 0xffff: zero means "no checksum". */
	if (sum == 0 && v->sal.protocol == SVX_IPPROTO_UDP)
		sum = 0xffff;
	svx_put_be16(check, sum);
	return SVX_OK;
}
