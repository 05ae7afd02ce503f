// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "../sal.h"
#include "../csum.h"

/* Minimum length of each extension type, as the reference walk checks it. */
static const u8 svx_ext_min_len[SVX_EXT_TYPE_MAX + 1] = {
	[SVX_EXT_PAD] = 1,
	[SVX_EXT_CONTROL] = SVX_EXT_CONTROL_LEN,
	[SVX_EXT_SERVICE] = SVX_EXT_SERVICE_LEN,
	[SVX_EXT_ADDRESS] = SVX_EXT_ADDRESS_LEN,
	[SVX_EXT_SOURCE] = SVX_EXT_SOURCE_LEN(SVX_EXT_SOURCE_MIN_ADDRS),
};

static bool svx_ext_len_ok(unsigned int type, unsigned int elen)
{
	switch (type) {
	case SVX_EXT_CONTROL:
		return elen == SVX_EXT_CONTROL_LEN;
	case SVX_EXT_SERVICE:
		return elen == SVX_EXT_SERVICE_LEN;
	case SVX_EXT_SOURCE:
		return elen >= svx_ext_min_len[type] && (elen - SVX_EXT_SOURCE_HDR_LEN) % 4 == 0;
	default:
		return elen >= svx_ext_min_len[type];
	}
}

enum svx_err svx_sal_parse(const u8 *sal, size_t len, unsigned int opts, struct svx_sal_view *v)
{
	unsigned int off, hlen, type, elen;
	u8 last_type = 0;

	memset(v, 0, sizeof(*v));
	if (len < SVX_SAL_BASE_LEN)
		return SVX_E_SAL_TRUNCATED;
	hlen = (unsigned int)sal[8] * 4;
	if (hlen < SVX_SAL_BASE_LEN)
		return SVX_E_SAL_SHL;
	if (len < hlen)
		return SVX_E_SAL_TRUNCATED;

	v->len = (u16)hlen;
	v->protocol = sal[9];
	v->canonical = true;
	for (off = SVX_SAL_BASE_LEN; off < hlen; off += elen) {
		type = sal[off] >> 4;
		if (type > SVX_EXT_TYPE_MAX)
			return SVX_E_EXT_TYPE;
		if (++v->n_elems > SVX_SAL_MAX_ELEMS)
			return SVX_E_EXT_COUNT;
		if (type == SVX_EXT_PAD) {
			elen = 1;
			v->n_pad++;
			v->canonical = false;
			continue;
		}
		if (off + 2 > hlen)
			return SVX_E_EXT_OVERRUN;
		elen = sal[off + 1];
		if (!svx_ext_len_ok(type, elen))
			return SVX_E_EXT_LEN;
		if (off + elen > hlen)
			return SVX_E_EXT_OVERRUN;
		if (type < last_type)
			v->canonical = false;
		last_type = (u8)type;

		switch (type) {
		case SVX_EXT_CONTROL:
			if (v->ctrl_off)
				return SVX_E_EXT_DUP;
			v->ctrl_off = (u16)off;
			v->flags = sal[off + 2];
			break;
		case SVX_EXT_SERVICE:
			if (v->n_service == 2)
				return SVX_E_EXT_DUP;
			v->service_off[v->n_service++] = (u16)off;
			break;
		case SVX_EXT_ADDRESS:
			/* Obsolete and ignored by the reference; accepted, never sent. */
			if (v->address_off)
				return SVX_E_EXT_DUP;
			v->address_off = (u16)off;
			v->canonical = false;
			break;
		case SVX_EXT_SOURCE:
			if (v->source_off)
				return SVX_E_EXT_DUP;
			v->source_off = (u16)off;
			v->n_source = (u8)((elen - SVX_EXT_SOURCE_HDR_LEN) / 4);
			break;
		}
	}
	if (!(opts & SVX_SAL_PARSE_NO_CSUM) && svx_csum(sal, hlen) != 0)
		return SVX_E_SAL_CSUM;
	return SVX_OK;
}

size_t svx_sal_spec_len(const struct svx_sal_spec *s)
{
	size_t len = SVX_SAL_BASE_LEN;

	if (s->has_ctrl)
		len += SVX_EXT_CONTROL_LEN;
	len += (size_t)s->n_service * SVX_EXT_SERVICE_LEN;
	if (s->n_source)
		len += SVX_EXT_SOURCE_LEN(s->n_source);
	return len;
}

void svx_sal_fill_csum(u8 *sal, size_t len)
{
	sal[10] = 0;
	sal[11] = 0;
	svx_put_be16(sal + 10, svx_csum(sal, len));
}

/* The base header's fields; the checksum is the caller's, once it is complete. */
static void svx_sal_put_base(u8 *out, u32 src_flow, u32 dst_flow, size_t len, u8 protocol)
{
	svx_put_be32(out, src_flow);
	svx_put_be32(out + 4, dst_flow);
	out[8] = (u8)(len / 4);
	out[9] = protocol;
}

void svx_sal_build_data(u8 *out, u32 local_flow, u32 peer_flow)
{
	svx_sal_put_base(out, local_flow, peer_flow, SVX_SAL_BASE_LEN, SVX_IPPROTO_TCP);
	svx_sal_fill_csum(out, SVX_SAL_BASE_LEN);
}

int svx_sal_build(u8 *out, size_t cap, const struct svx_sal_spec *s)
{
	size_t len = svx_sal_spec_len(s), off = SVX_SAL_BASE_LEN;
	unsigned int i;

	if (s->n_service > 2 || s->n_source > SVX_EXT_SOURCE_MAX_ADDRS ||
	    s->n_source == 1)
		return -SVX_E_INVAL;
	if (cap < len)
		return -SVX_E_NOSPACE;

	svx_sal_put_base(out, s->src_flow, s->dst_flow, len, s->protocol);
	if (s->has_ctrl) {
		out[off] = (u8)(SVX_EXT_CONTROL << 4 | (s->ctrl.res_nibble & 0xf));
		out[off + 1] = SVX_EXT_CONTROL_LEN;
		out[off + 2] = s->ctrl.flags;
		out[off + 3] = s->ctrl.reserved2;
		svx_put_be32(out + off + 4, s->ctrl.verno);
		svx_put_be32(out + off + 8, s->ctrl.ackno);
		memcpy(out + off + 12, s->ctrl.nonce, SVX_NONCE_LEN);
		off += SVX_EXT_CONTROL_LEN;
	}
	for (i = 0; i < s->n_service; i++) {
		out[off] = (u8)(SVX_EXT_SERVICE << 4 | (s->service[i].res_nibble & 0xf));
		out[off + 1] = SVX_EXT_SERVICE_LEN;
		svx_put_be16(out + off + 2, s->service[i].reserved);
		memcpy(out + off + 4, s->service[i].id.b, SVX_SID_LEN);
		off += SVX_EXT_SERVICE_LEN;
	}
	if (s->n_source) {
		out[off] = (u8)(SVX_EXT_SOURCE << 4 | (s->source_res_nibble & 0xf));
		out[off + 1] = (u8)SVX_EXT_SOURCE_LEN(s->n_source);
		svx_put_be16(out + off + 2, s->source_reserved);
		memcpy(out + off + 4, s->source, 4 * (size_t)s->n_source);
	}
	svx_sal_fill_csum(out, len);
	return (int)len;
}

enum svx_err svx_sal_decode(const u8 *sal, const struct svx_sal_view *v, struct svx_sal_spec *s)
{
	const u8 *p;
	unsigned int i;

	memset(s, 0, sizeof(*s));
	if (v->n_source > SVX_EXT_SOURCE_MAX_ADDRS)
		return SVX_E_EXT_LEN;
	s->src_flow = svx_sal_src_flow(sal);
	s->dst_flow = svx_sal_dst_flow(sal);
	s->protocol = v->protocol;
	if (v->ctrl_off) {
		p = sal + v->ctrl_off;
		s->has_ctrl = true;
		s->ctrl.res_nibble = p[0] & 0xf;
		s->ctrl.flags = p[2];
		s->ctrl.reserved2 = p[3];
		s->ctrl.verno = svx_get_be32(p + 4);
		s->ctrl.ackno = svx_get_be32(p + 8);
		memcpy(s->ctrl.nonce, p + 12, SVX_NONCE_LEN);
	}
	s->n_service = v->n_service;
	for (i = 0; i < v->n_service; i++) {
		p = sal + v->service_off[i];
		s->service[i].res_nibble = p[0] & 0xf;
		s->service[i].reserved = svx_get_be16(p + 2);
		memcpy(s->service[i].id.b, p + 4, SVX_SID_LEN);
	}
	if (v->source_off) {
		p = sal + v->source_off;
		s->n_source = v->n_source;
		s->source_res_nibble = p[0] & 0xf;
		s->source_reserved = svx_get_be16(p + 2);
		memcpy(s->source, p + 4, 4 * (size_t)v->n_source);
	}
	return SVX_OK;
}

void svx_sal_spec_control(struct svx_sal_spec *s, u32 local_flow, u32 peer_flow, u8 flags,
			  u32 verno, u32 ackno, const u8 nonce[SVX_NONCE_LEN])
{
	svx_sal_spec_data(s, local_flow, peer_flow);
	s->has_ctrl = true;
	s->ctrl.flags = flags;
	s->ctrl.verno = verno;
	s->ctrl.ackno = ackno;
	memcpy(s->ctrl.nonce, nonce, SVX_NONCE_LEN);
}

void svx_sal_spec_syn(struct svx_sal_spec *s, u32 local_flow, u32 iss,
		      const u8 nonce[SVX_NONCE_LEN], const struct svx_sid *sid)
{
	svx_sal_spec_control(s, local_flow, 0, SVX_CTL_SYN, iss, 0, nonce);
	s->n_service = 1;
	s->service[0].id = *sid;
}

void svx_sal_spec_handshake_ack(struct svx_sal_spec *s, u32 local_flow, u32 peer_flow,
				u32 verno, u32 ackno, const u8 nonce[SVX_NONCE_LEN],
				const struct svx_sid *sid)
{
	svx_sal_spec_control(s, local_flow, peer_flow, SVX_CTL_ACK, verno, ackno, nonce);
	s->n_service = 1;
	s->service[0].id = *sid;
}

enum svx_err svx_sal_spec_synack(struct svx_sal_spec *s, u32 local_flow, u32 iss,
				 const u8 nonce[SVX_NONCE_LEN], const u8 *syn,
				 const struct svx_sal_view *syn_v, const u8 self[4])
{
	const u8 *src;

	svx_sal_spec_control(s, local_flow, svx_sal_src_flow(syn), SVX_CTL_SYN | SVX_CTL_ACK,
			     iss, svx_sal_verno(syn, syn_v) + 1, nonce);
	s->protocol = syn_v->protocol;
	if (!syn_v->source_off)
		return SVX_OK;
	if (syn_v->n_source >= SVX_EXT_SOURCE_MAX_ADDRS)
		return SVX_E_EXT_LEN;
	/* A byte copy of the SYN's SOURCE, reserved bytes included. */
	src = syn + syn_v->source_off;
	s->source_res_nibble = src[0] & 0xf;
	s->source_reserved = svx_get_be16(src + 2);
	memcpy(s->source, src + 4, 4 * (size_t)syn_v->n_source);
	memcpy(s->source[syn_v->n_source], self, 4);
	s->n_source = (u8)(syn_v->n_source + 1);
	return SVX_OK;
}

enum svx_err svx_sal_spec_passive_rst(struct svx_sal_spec *s, const u8 *off,
				      const struct svx_sal_view *off_v)
{
	static const u8 no_nonce[SVX_NONCE_LEN];
	const u8 *nonce = svx_sal_nonce(off, off_v);
	u8 flags = off_v->flags;
	u32 ackno;

	if (flags & SVX_CTL_RST)
		return SVX_E_INVAL;
	svx_sal_spec_control(s, svx_sal_dst_flow(off), svx_sal_src_flow(off), SVX_CTL_RST, 0, 0,
			     nonce ? nonce : no_nonce);
	s->protocol = off_v->protocol;
	if (flags & SVX_CTL_ACK) {
		s->ctrl.verno = svx_sal_ackno(off, off_v);
		return SVX_OK;
	}
	/*
	 * The reference adds the FIN flag's mask (32), not 1, for a FIN; kept so
	 * the reset is the reference's byte for byte. No receiver reads an RST's
	 * ackno (section 6.8).
	 */
	ackno = svx_sal_verno(off, off_v);
	if (flags & SVX_CTL_SYN)
		ackno += 1;
	if (flags & SVX_CTL_FIN)
		ackno += 32;
	s->ctrl.flags |= SVX_CTL_ACK;
	s->ctrl.ackno = ackno;
	return SVX_OK;
}

int svx_sal_source_append(u8 *buf, size_t len, size_t cap, struct svx_sal_view *v,
			  const u8 orig_src[4], const u8 hop[4])
{
	size_t grow, at;
	unsigned int i;
	enum svx_err err;

	if (len < v->len)
		return -SVX_E_SAL_TRUNCATED;
	if (v->source_off) {
		for (i = 0; i < v->n_source; i++)
			if (!memcmp(svx_sal_source_addr(buf, v, i), hop, 4))
				return -SVX_E_SOURCE_LOOP;
		if (v->n_source >= SVX_EXT_SOURCE_MAX_ADDRS)
			return -SVX_E_EXT_LEN;
		grow = 4;
		at = v->source_off + SVX_EXT_SOURCE_LEN(v->n_source);
	} else {
		grow = SVX_EXT_SOURCE_LEN(SVX_EXT_SOURCE_MIN_ADDRS);
		at = v->len;
	}
	if (v->len + grow > SVX_SAL_MAX_LEN || (v->source_off == 0 &&
						 v->n_elems >= SVX_SAL_MAX_ELEMS))
		return -SVX_E_EXT_LEN;
	if (len + grow > cap)
		return -SVX_E_NOSPACE;

	memmove(buf + at + grow, buf + at, len - at);
	if (v->source_off) {
		memcpy(buf + at, hop, 4);
		buf[v->source_off + 1] = (u8)(buf[v->source_off + 1] + 4);
	} else {
		/* Reserved bytes zero: the reference leaves them uninitialised. */
		buf[at] = SVX_EXT_SOURCE << 4;
		buf[at + 1] = (u8)grow;
		buf[at + 2] = 0;
		buf[at + 3] = 0;
		memcpy(buf + at + 4, orig_src, 4);
		memcpy(buf + at + 8, hop, 4);
	}
	buf[8] = (u8)((v->len + grow) / 4);
	svx_sal_fill_csum(buf, v->len + grow);
	err = svx_sal_parse(buf, len + grow, 0, v);
	if (err)
		return -(int)err;
	return (int)(len + grow);
}
