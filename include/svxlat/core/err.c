// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "../err.h"

struct svx_err_text {
	const char *name;
	const char *desc;
};

static const struct svx_err_text svx_err_texts[SVX_E__COUNT] = {
	[SVX_OK] = { "ok", "no error" },
	[SVX_E_IP_TRUNCATED] = { "ip_truncated", "shorter than an IPv4 header" },
	[SVX_E_IP_VERSION] = { "ip_version", "IP version is not 4 (SAL runs over IPv4 only)" },
	[SVX_E_IP_HDR_LEN] = { "ip_hdr_len", "IPv4 header length below 20 bytes or beyond the packet" },
	[SVX_E_IP_TOT_LEN] = { "ip_tot_len", "IPv4 total length disagrees with the bytes received" },
	[SVX_E_IP_CSUM] = { "ip_csum", "IPv4 header checksum does not verify" },
	[SVX_E_IP_FRAGMENT] = { "ip_fragment", "IPv4 fragment (SAL needs the whole header in one packet)" },
	[SVX_E_NOT_SAL] = { "not_sal", "neither IP protocol 144 nor UDP-encapsulated SAL" },
	[SVX_E_SAL_TRUNCATED] = { "sal_truncated", "shorter than the SAL base header or than SHL*4 bytes" },
	[SVX_E_SAL_SHL] = { "sal_shl", "SAL header length (SHL) below 3 words" },
	[SVX_E_EXT_TYPE] = { "ext_type", "SAL extension type 5..15 is not defined" },
	[SVX_E_EXT_LEN] = { "ext_len", "SAL extension length invalid for its type" },
	[SVX_E_EXT_OVERRUN] = { "ext_overrun", "SAL extensions do not add up to exactly SHL*4 bytes" },
	[SVX_E_EXT_COUNT] = { "ext_count", "more than 10 SAL extension elements" },
	[SVX_E_EXT_DUP] = { "ext_dup", "second CONTROL or SOURCE, or third SERVICE extension" },
	[SVX_E_SAL_CSUM] = { "sal_csum", "SAL header checksum does not verify" },
	[SVX_E_L4_PROTO] = { "l4_proto", "transport after the SAL is neither TCP nor UDP" },
	[SVX_E_L4_TRUNCATED] = { "l4_truncated", "transport header cut short" },
	[SVX_E_L4_HDR_LEN] = { "l4_hdr_len", "TCP data offset or UDP length field invalid" },
	[SVX_E_L4_CSUM] = { "l4_csum", "TCP/UDP checksum does not verify" },
	[SVX_E_NOSPACE] = { "nospace", "output buffer too small for the packet" },
	[SVX_E_INVAL] = { "inval", "invalid field value for the packet to build" },
	[SVX_E_SOURCE_LOOP] = { "source_loop", "SOURCE extension already lists this hop (forwarding loop)" },
	[SVX_E_NO_FLOW] = { "no_flow", "no flow for this packet (unknown flow ID, tuple or port)" },
	[SVX_E_STATE] = { "state", "packet not valid in the flow's state (e.g. data before the handshake)" },
	[SVX_E_VERNO] = { "verno", "SAL control packet outside the expected verno/ackno (answered with an ACK when old)" },
	[SVX_E_NONCE] = { "nonce", "SAL control packet with the wrong nonce" },
	[SVX_E_NO_ROUTE] = { "no_route", "no service router or instance for the service ID" },
	[SVX_E_TTL] = { "ttl", "IP TTL would reach zero at this SAL hop (router forwarding)" },
	[SVX_E_LINK_BROADCAST] = { "link_broadcast", "arrived in a link-layer broadcast or multicast frame: a router never forwards it (section 12 step 1)" },
	[SVX_E_REG_DATAGRAM] = { "reg_datagram", "registration not in an unconnected Serval-UDP datagram (UDP, no CONTROL, dst flow 0, two SERVICE)" },
	[SVX_E_REG_LEN] = { "reg_len", "registration message not 48 bytes, or its big-endian len field not 48" },
	[SVX_E_REG_TYPE] = { "reg_type", "registration message type neither REGISTER (0) nor UNREGISTER (1)" },
	[SVX_E_REG_FLAGS] = { "reg_flags", "registration message flag bits other than REREGISTER" },
};

const char *svx_err_name(enum svx_err err)
{
	if ((unsigned int)err >= SVX_E__COUNT)
		return "unknown";
	return svx_err_texts[err].name;
}

const char *svx_err_desc(enum svx_err err)
{
	if ((unsigned int)err >= SVX_E__COUNT)
		return "unknown error code";
	return svx_err_texts[err].desc;
}
