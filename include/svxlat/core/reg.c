// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "../reg.h"

/* The xid is in the sender's host order; svxlat fixes it to little-endian. */
static u32 svx_get_le32(const u8 *p)
{
	return (u32)p[3] << 24 | (u32)p[2] << 16 | (u32)p[1] << 8 | p[0];
}

static void svx_put_le32(u8 *p, u32 v)
{
	p[0] = (u8)v;
	p[1] = (u8)(v >> 8);
	p[2] = (u8)(v >> 16);
	p[3] = (u8)(v >> 24);
}

void svx_reg_sid_from_u32(struct svx_sid *id, u32 number)
{
	memset(id, 0, sizeof(*id));
	svx_put_be32(id->b, number);
}

static enum svx_err svx_reg_check(u8 type, u8 flags)
{
	if (type != SVX_CTRLMSG_REGISTER && type != SVX_CTRLMSG_UNREGISTER)
		return SVX_E_REG_TYPE;
	if (flags & (u8)~SVX_REG_FLAGS_KNOWN)
		return SVX_E_REG_FLAGS;
	return SVX_OK;
}

enum svx_err svx_reg_msg_build(u8 out[SVX_REG_MSG_LEN], const struct svx_reg_msg *m)
{
	if (svx_reg_check(m->type, m->flags) || m->prefix_bits == 0 ||
	    m->prefix_bits > SVX_SID_BITS)
		return SVX_E_INVAL;
	out[0] = m->type;
	out[1] = m->retval;
	svx_put_be16(out + 2, SVX_REG_MSG_LEN);
	svx_put_le32(out + 4, m->xid);
	out[8] = m->flags;
	out[9] = 0;
	out[10] = m->prefix_bits == SVX_SID_BITS ? 0 : (u8)m->prefix_bits;
	out[11] = m->srvid_flags;
	memcpy(out + 12, m->addr, 4);
	memcpy(out + 16, m->service_id.b, SVX_SID_LEN);
	return SVX_OK;
}

enum svx_err svx_reg_msg_parse(const u8 *body, size_t len, struct svx_reg_msg *m)
{
	enum svx_err err;

	memset(m, 0, sizeof(*m));
	if (len != SVX_REG_MSG_LEN || svx_get_be16(body + 2) != SVX_REG_MSG_LEN)
		return SVX_E_REG_LEN;
	err = svx_reg_check(body[0], body[8]);
	if (err)
		return err;
	m->type = body[0];
	m->retval = body[1];
	m->xid = svx_get_le32(body + 4);
	m->flags = body[8];
	m->prefix_bits = (u16)(body[10] ? body[10] : SVX_SID_BITS);
	m->srvid_flags = body[11];
	memcpy(m->addr, body + 12, 4);
	memcpy(m->service_id.b, body + 16, SVX_SID_LEN);
	return SVX_OK;
}

int svx_reg_datagram_build(u8 *out, size_t cap, const struct svx_ipv4_spec *ip,
			   const struct svx_reg_datagram *d)
{
	struct svx_ipv4_spec ips = *ip;
	struct svx_sal_spec sal;
	struct svx_pkt_view v;
	u8 *udp = out + SVX_IPV4_HDR_LEN + SVX_REG_SAL_LEN;
	enum svx_err err;
	int n;

	if (cap < SVX_REG_DATAGRAM_LEN)
		return -SVX_E_NOSPACE;
	err = svx_reg_msg_build(udp + SVX_UDP_HDR_LEN, &d->msg);
	if (err)
		return -(int)err;

	memset(&sal, 0, sizeof(sal));
	sal.src_flow = d->src_flow;
	sal.dst_flow = 0;
	sal.protocol = SVX_IPPROTO_UDP;
	sal.n_service = 2;
	sal.service[0].id = d->dst_service;
	sal.service[1].id = d->src_service;
	n = svx_sal_build(out + SVX_IPV4_HDR_LEN, SVX_REG_SAL_LEN, &sal);
	if (n != SVX_REG_SAL_LEN)
		return n < 0 ? n : -SVX_E_INVAL;

	memset(udp, 0, SVX_UDP_HDR_LEN);
	svx_put_be16(udp + 4, SVX_REG_UDP_LEN);

	ips.protocol = SVX_IPPROTO_SAL;
	svx_ipv4_build(out, &ips, SVX_REG_DATAGRAM_LEN);

	/* The view the transport checksum helper needs; the SAL was just built. */
	err = svx_pkt_parse(out, SVX_REG_DATAGRAM_LEN, SVX_SAL_PARSE_NO_CSUM, &v);
	if (!err)
		err = svx_pkt_fill_l4_csum(out, &v);
	if (err)
		return -(int)err;
	return SVX_REG_DATAGRAM_LEN;
}

enum svx_err svx_reg_datagram_parse(const u8 *pkt, size_t len, unsigned int opts,
				    struct svx_reg_datagram *d)
{
	struct svx_pkt_view v;
	const u8 *sal;
	enum svx_err err;

	memset(d, 0, sizeof(*d));
	err = svx_pkt_parse(pkt, len, opts, &v);
	if (err)
		return err;
	sal = pkt + v.sal_off;
	if (v.sal.protocol != SVX_IPPROTO_UDP || v.sal.ctrl_off || v.sal.n_service != 2 ||
	    svx_sal_dst_flow(sal) != 0 || v.l4_hlen != SVX_UDP_HDR_LEN)
		return SVX_E_REG_DATAGRAM;

	err = svx_reg_msg_parse(pkt + v.l4_off + SVX_UDP_HDR_LEN,
				(size_t)v.l4_len - SVX_UDP_HDR_LEN, &d->msg);
	if (err)
		return err;
	memcpy(d->saddr, svx_ip_saddr(pkt), 4);
	memcpy(d->daddr, svx_ip_daddr(pkt), 4);
	d->src_flow = svx_sal_src_flow(sal);
	memcpy(d->dst_service.b, svx_sal_service(sal, &v.sal, 0), SVX_SID_LEN);
	memcpy(d->src_service.b, svx_sal_service(sal, &v.sal, 1), SVX_SID_LEN);
	return SVX_OK;
}
