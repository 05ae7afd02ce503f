// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "../tcp.h"

static bool svx_tcpopt_is_stripped(u8 kind)
{
	return kind == SVX_TCPOPT_SACK_PERM || kind == SVX_TCPOPT_SACK ||
	       kind == SVX_TCPOPT_TIMESTAMP;
}

bool svx_tcp_rewrite_options(u8 *tcp, unsigned int hlen, u16 mss_cap, unsigned int flags,
			     u16 *mss_seen)
{
	unsigned int off = SVX_TCP_HDR_LEN, olen, i;
	bool changed = false;
	u8 kind;

	*mss_seen = 0;
	while (off < hlen) {
		kind = tcp[off];
		if (kind == SVX_TCPOPT_EOL)
			break;
		if (kind == SVX_TCPOPT_NOP) {
			off++;
			continue;
		}
		if (off + 2 > hlen)
			break;
		olen = tcp[off + 1];
		if (olen < 2 || off + olen > hlen)
			break;
		if (kind == SVX_TCPOPT_MSS && olen == 4) {
			u16 mss = svx_get_be16(tcp + off + 2);

			if (mss_cap && mss > mss_cap) {
				svx_put_be16(tcp + off + 2, mss_cap);
				mss = mss_cap;
				changed = true;
			}
			*mss_seen = mss;
		} else if ((flags & SVX_TCPOPT_STRIP_SACK_TS) && svx_tcpopt_is_stripped(kind)) {
			for (i = 0; i < olen; i++)
				tcp[off + i] = SVX_TCPOPT_NOP;
			changed = true;
		}
		off += olen;
	}
	return changed;
}
