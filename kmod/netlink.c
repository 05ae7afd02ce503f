// SPDX-License-Identifier: GPL-2.0
/*
 * The "svxlat" generic netlink family (include/svxlat/nl.h). The family
 * has no policy of its own: every handler parses its message here, strictly,
 * so that each refusal is counted (SVX_ST_NL_REJECTED) and explained through
 * extack. All operations need CAP_NET_ADMIN and act on the caller's network
 * namespace.
 */
#include <linux/sort.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include <svxlat/nl.h>

#include "svxlat_kmod.h"

#define SVX_NL_DUMP_BATCH 16

static struct genl_family svx_nl_family;

static const struct nla_policy svx_nl_policy[SVX_NLA_MAX + 1] = {
	[SVX_NLA_SAL_MTU] = NLA_POLICY_MIN(NLA_U16, 576),
	[SVX_NLA_TCP_MTU] = NLA_POLICY_MIN(NLA_U16, 576),
	[SVX_NLA_TTL] = NLA_POLICY_MIN(NLA_U8, 1),
	[SVX_NLA_MAX_RETRANS] = { .type = NLA_U8 },
	[SVX_NLA_RTO_INITIAL_MS] = NLA_POLICY_MIN(NLA_U32, 1),
	[SVX_NLA_RTO_MAX_MS] = NLA_POLICY_MIN(NLA_U32, 1),
	[SVX_NLA_FIN_ACK_DELAY_MS] = NLA_POLICY_MAX(NLA_U32, SVX_FIN_ACK_DELAY_MAX_MS),
	[SVX_NLA_TIMEOUTS_MS] = NLA_POLICY_EXACT_LEN(sizeof(u32) * SVX_TO__COUNT),
	[SVX_NLA_MAX_FLOWS] = NLA_POLICY_MIN(NLA_U32, 1),
	[SVX_NLA_MAX_EMBRYONIC] = NLA_POLICY_MIN(NLA_U32, 1),
	[SVX_NLA_XLT_ADDR] = NLA_POLICY_EXACT_LEN(4),
	[SVX_NLA_XLT_ROUTER] = NLA_POLICY_EXACT_LEN(4),
	[SVX_NLA_XLT_ROWS] = { .type = NLA_REJECT },
	[SVX_NLA_HOST_ADDR] = NLA_POLICY_EXACT_LEN(4),
	[SVX_NLA_HOST_PORT_LOW] = NLA_POLICY_MIN(NLA_U16, 1),
	[SVX_NLA_HOST_PORT_HIGH] = NLA_POLICY_MIN(NLA_U16, 1),
	[SVX_NLA_HOST_SERVICES] = { .type = NLA_REJECT },
	[SVX_NLA_CONFIG_GEN] = { .type = NLA_U64 },
	[SVX_NLA_ROW] = { .type = NLA_NESTED },
	[SVX_NLA_ROW_ADDR] = NLA_POLICY_EXACT_LEN(4),
	[SVX_NLA_ROW_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[SVX_NLA_ROW_SERVICE] = NLA_POLICY_EXACT_LEN(SVX_SID_LEN),
	[SVX_NLA_ROW_STRIP] = NLA_POLICY_MAX(NLA_U8, 1),
	[SVX_NLA_SERVICE] = { .type = NLA_NESTED },
	[SVX_NLA_SVC_PREFIX] = NLA_POLICY_EXACT_LEN(SVX_SID_LEN),
	[SVX_NLA_SVC_BITS] = NLA_POLICY_MAX(NLA_U16, 256),
	[SVX_NLA_SVC_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[SVX_NLA_ROW_LOCAL_ONLY] = NLA_POLICY_MAX(NLA_U8, 1),
	[SVX_NLA_ROUTER_ADDR] = NLA_POLICY_EXACT_LEN(4),
	[SVX_NLA_ROUTER_ID] = NLA_POLICY_EXACT_LEN(SVX_SID_LEN),
	[SVX_NLA_ROUTES_GEN] = { .type = NLA_U64 },
	[SVX_NLA_ROUTE_COUNT] = { .type = NLA_REJECT },
	[SVX_NLA_ROUTE] = { .type = NLA_NESTED },
	[SVX_NLA_ROUTE_PREFIX] = NLA_POLICY_EXACT_LEN(SVX_SID_LEN),
	[SVX_NLA_ROUTE_BITS] = NLA_POLICY_MAX(NLA_U16, 256),
	[SVX_NLA_ROUTE_TARGET] = { .type = NLA_NESTED },
	[SVX_NLA_TGT_ADDR] = NLA_POLICY_EXACT_LEN(4),
	[SVX_NLA_TGT_PRIORITY] = { .type = NLA_U32 },
	[SVX_NLA_TGT_WEIGHT] = NLA_POLICY_MIN(NLA_U32, 1),
	[SVX_NLA_TGT_CHOSEN] = { .type = NLA_REJECT },
	[SVX_NLA_XLT_ROUTE] = { .type = NLA_NESTED },
	[SVX_NLA_XLT_ROUTE_COUNT] = { .type = NLA_REJECT },
	[SVX_NLA_ROUTES_TABLE] = NLA_POLICY_MAX(NLA_U8, SVX_NL_ROUTES__COUNT - 1),
};

/* Counts a refused request; the handler has set the extack message. */
static int svx_nl_reject(struct svx_net *sn, int err)
{
	svx_count(sn, SVX_ST_NL_REJECTED, 1);
	return err;
}

/* Checks the user header and parses the attributes of a request. */
static int svx_nl_parse(struct svx_net *sn, const struct nlmsghdr *nlh, struct nlattr **tb,
			struct netlink_ext_ack *extack)
{
	const struct svx_nl_hdr *hdr = nlmsg_data(nlh) + GENL_HDRLEN;
	int err;

	/* genetlink already made sure the message holds both headers. */
	if (hdr->magic != SVX_NL_MAGIC || hdr->version != SVX_NL_VERSION || hdr->reserved) {
		NL_SET_ERR_MSG(extack, "svxlat: wrong magic or version in the svxlat header");
		return svx_nl_reject(sn, -EPROTO);
	}
	err = nlmsg_parse(nlh, GENL_HDRLEN + sizeof(*hdr), tb, SVX_NLA_MAX, svx_nl_policy, extack);
	if (err)
		return svx_nl_reject(sn, err);
	return 0;
}

/* A reply with the family and svxlat headers; NULL on allocation failure. */
static void *svx_nl_reply_put(struct sk_buff *skb, u32 portid, u32 seq, int flags, u8 cmd)
{
	struct svx_nl_hdr *hdr = genlmsg_put(skb, portid, seq, &svx_nl_family, flags, cmd);

	if (!hdr)
		return NULL;
	hdr->magic = SVX_NL_MAGIC;
	hdr->version = SVX_NL_VERSION;
	hdr->reserved = 0;
	return hdr;
}

static int svx_nl_get_info(struct sk_buff *skb, struct genl_info *info)
{
	struct svx_net *sn = svx_net_get(genl_info_net(info));
	struct nlattr *tb[SVX_NLA_MAX + 1];
	const struct svx_kroutes *routes;
	const struct svx_kcfg *cfg;
	struct sk_buff *msg;
	void *hdr;
	int err;

	err = svx_nl_parse(sn, info->nlhdr, tb, info->extack);
	if (err)
		return err;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = svx_nl_reply_put(msg, info->snd_portid, info->snd_seq, 0, SVX_NL_CMD_GET_INFO);
	if (!hdr)
		goto nospace;
	rcu_read_lock();
	cfg = rcu_dereference(sn->cfg);
	if (nla_put_u32(msg, SVX_NLA_VERSION, SVX_NL_VERSION) ||
	    nla_put_u32(msg, SVX_NLA_FLOW_SIZE, sizeof(struct svx_flow)) ||
	    nla_put_u8(msg, SVX_NLA_CONFIGURED, cfg ? 1 : 0) ||
	    nla_put_u32(msg, SVX_NLA_FLOW_COUNT, svx_flows_count(sn)) ||
	    nla_put_u64_64bit(msg, SVX_NLA_CONFIG_GEN, cfg ? cfg->generation : 0, SVX_NLA_UNSPEC)) {
		rcu_read_unlock();
		goto nospace;
	}
	routes = rcu_dereference(sn->routes);
	if (nla_put_u32(msg, SVX_NLA_ROUTE_COUNT, routes ? routes->table.n_entries : 0) ||
	    (routes && routes->has_generation &&
	     nla_put_u64_64bit(msg, SVX_NLA_ROUTES_GEN, routes->generation, SVX_NLA_UNSPEC)) ||
	    nla_put_u32(msg, SVX_NLA_XLT_ROUTE_COUNT,
			cfg && cfg->xlt_routes ? cfg->xlt_routes->table.n_entries : 0)) {
		rcu_read_unlock();
		goto nospace;
	}
	rcu_read_unlock();
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int svx_krow_cmp(const void *a, const void *b)
{
	u64 ka = ((const struct svx_krow *)a)->key, kb = ((const struct svx_krow *)b)->key;

	return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/* Top-level attributes of a request (already validated by nlmsg_parse). */
#define svx_nl_for_each_attr(a, nlh, rem) \
	nlmsg_for_each_attr(a, nlh, GENL_HDRLEN + sizeof(struct svx_nl_hdr), rem)

static int svx_nl_count(const struct nlmsghdr *nlh, int type, u32 max, u32 *n,
			struct netlink_ext_ack *extack)
{
	const struct nlattr *a;
	int rem;

	*n = 0;
	svx_nl_for_each_attr(a, nlh, rem) {
		if (nla_type(a) == type && ++*n > max) {
			NL_SET_ERR_MSG_ATTR(extack, a, "svxlat: too many list entries");
			return -E2BIG;
		}
	}
	return 0;
}

static struct svx_kroutes *svx_nl_build_routes(const struct nlmsghdr *nlh, int type,
					       struct netlink_ext_ack *extack, int *err);

static bool svx_nl_has(const struct nlmsghdr *nlh, int type)
{
	const struct nlattr *a;
	int rem;

	svx_nl_for_each_attr(a, nlh, rem)
		if (nla_type(a) == type)
			return true;
	return false;
}

static int svx_nl_parse_rows(struct svx_kcfg *cfg, const struct nlmsghdr *nlh,
			     struct netlink_ext_ack *extack)
{
	struct nlattr *tb[SVX_NLA_MAX + 1];
	const struct nlattr *a;
	u32 n, i = 0;
	int rem, err;

	err = svx_nl_count(nlh, SVX_NLA_ROW, SVX_NL_MAX_ROWS, &n, extack);
	if (err || !n)
		return err;
	cfg->rows = kvcalloc(n, sizeof(*cfg->rows), GFP_KERNEL);
	if (!cfg->rows)
		return -ENOMEM;
	svx_nl_for_each_attr(a, nlh, rem) {
		struct svx_krow *row;

		if (nla_type(a) != SVX_NLA_ROW)
			continue;
		row = &cfg->rows[i++];

		err = nla_parse_nested(tb, SVX_NLA_MAX, a, svx_nl_policy, extack);
		if (err)
			return err;
		if (!tb[SVX_NLA_ROW_ADDR] || !tb[SVX_NLA_ROW_PORT] || !tb[SVX_NLA_ROW_SERVICE]) {
			NL_SET_ERR_MSG_ATTR(extack, a, "svxlat: row needs address, port and service");
			return -EINVAL;
		}
		row->key = (u64)svx_get_be32(nla_data(tb[SVX_NLA_ROW_ADDR])) << 16 |
			   nla_get_u16(tb[SVX_NLA_ROW_PORT]);
		memcpy(row->service.b, nla_data(tb[SVX_NLA_ROW_SERVICE]), SVX_SID_LEN);
		row->strip_opts = tb[SVX_NLA_ROW_STRIP] && nla_get_u8(tb[SVX_NLA_ROW_STRIP]);
		row->local_only = tb[SVX_NLA_ROW_LOCAL_ONLY] && nla_get_u8(tb[SVX_NLA_ROW_LOCAL_ONLY]);
	}
	cfg->n_rows = n;
	sort(cfg->rows, n, sizeof(*cfg->rows), svx_krow_cmp, NULL);
	for (i = 1; i < n; i++)
		if (cfg->rows[i].key == cfg->rows[i - 1].key) {
			NL_SET_ERR_MSG(extack, "svxlat: two rows for one address and port");
			return -EINVAL;
		}
	return 0;
}

static int svx_nl_parse_services(struct svx_kcfg *cfg, const struct nlmsghdr *nlh,
				 struct netlink_ext_ack *extack)
{
	struct nlattr *tb[SVX_NLA_MAX + 1];
	const struct nlattr *a;
	u32 i = 0;
	int rem, err;

	svx_nl_for_each_attr(a, nlh, rem) {
		struct svx_host_service *svc;

		if (nla_type(a) != SVX_NLA_SERVICE)
			continue;
		svc = &cfg->services[i++];

		err = nla_parse_nested(tb, SVX_NLA_MAX, a, svx_nl_policy, extack);
		if (err)
			return err;
		if (!tb[SVX_NLA_SVC_PREFIX] || !tb[SVX_NLA_SVC_BITS] || !tb[SVX_NLA_SVC_PORT]) {
			NL_SET_ERR_MSG_ATTR(extack, a, "svxlat: service needs prefix, bits and port");
			return -EINVAL;
		}
		memcpy(svc->prefix.b, nla_data(tb[SVX_NLA_SVC_PREFIX]), SVX_SID_LEN);
		svc->bits = nla_get_u16(tb[SVX_NLA_SVC_BITS]);
		svc->port = nla_get_u16(tb[SVX_NLA_SVC_PORT]);
		svx_sid_mask(&svc->prefix, svc->bits);
	}
	return 0;
}

static const int svx_nl_required[] = {
	SVX_NLA_SAL_MTU, SVX_NLA_TCP_MTU, SVX_NLA_TTL, SVX_NLA_MAX_RETRANS,
	SVX_NLA_RTO_INITIAL_MS, SVX_NLA_RTO_MAX_MS, SVX_NLA_TIMEOUTS_MS,
	SVX_NLA_MAX_FLOWS, SVX_NLA_MAX_EMBRYONIC,
};

/* Builds a configuration from a validated SET_CONFIG; NULL + *err on refusal. */
static struct svx_kcfg *svx_nl_build_config(const struct nlmsghdr *nlh, struct nlattr **tb,
					    struct netlink_ext_ack *extack, int *err)
{
	struct svx_kcfg *cfg;
	u32 n_services = 0, i;
	const u32 *timeouts;

	*err = -EINVAL;
	for (i = 0; i < ARRAY_SIZE(svx_nl_required); i++)
		if (!tb[svx_nl_required[i]]) {
			NL_SET_ERR_ATTR_MISS(extack, NULL, svx_nl_required[i]);
			NL_SET_ERR_MSG(extack, "svxlat: a flow engine setting is missing");
			return NULL;
		}
	if (!tb[SVX_NLA_XLT_ADDR] && !tb[SVX_NLA_HOST_ADDR] && !tb[SVX_NLA_ROUTER_ADDR]) {
		NL_SET_ERR_MSG(extack, "svxlat: no role configured (translator, host agent, router)");
		return NULL;
	}
	if (!tb[SVX_NLA_ROUTER_ADDR] != !tb[SVX_NLA_ROUTER_ID]) {
		NL_SET_ERR_MSG(extack, "svxlat: the router needs both its address and its service ID");
		return NULL;
	}
	if (tb[SVX_NLA_HOST_ADDR]) {
		if (!tb[SVX_NLA_HOST_PORT_LOW] || !tb[SVX_NLA_HOST_PORT_HIGH]) {
			NL_SET_ERR_MSG(extack, "svxlat: host agent needs a per-flow port range");
			return NULL;
		}
		*err = svx_nl_count(nlh, SVX_NLA_SERVICE, SVX_NL_MAX_SERVICES, &n_services, extack);
		if (*err)
			return NULL;
		*err = -EINVAL;
		if (!n_services) {
			NL_SET_ERR_MSG(extack, "svxlat: host agent without services");
			return NULL;
		}
		if (nla_get_u16(tb[SVX_NLA_HOST_PORT_LOW]) > nla_get_u16(tb[SVX_NLA_HOST_PORT_HIGH])) {
			NL_SET_ERR_MSG(extack, "svxlat: per-flow port range is empty");
			return NULL;
		}
	}
	if (nla_get_u32(tb[SVX_NLA_RTO_MAX_MS]) < nla_get_u32(tb[SVX_NLA_RTO_INITIAL_MS])) {
		NL_SET_ERR_MSG(extack, "svxlat: RTO maximum below the initial RTO");
		return NULL;
	}
	if (nla_get_u32(tb[SVX_NLA_MAX_FLOWS]) > svx_flow_cap ||
	    nla_get_u32(tb[SVX_NLA_MAX_EMBRYONIC]) > nla_get_u32(tb[SVX_NLA_MAX_FLOWS])) {
		NL_SET_ERR_MSG(extack,
			       "svxlat: max flows above the module's flow_cap, or embryonic above max flows");
		return NULL;
	}
	timeouts = nla_data(tb[SVX_NLA_TIMEOUTS_MS]);
	for (i = 0; i < SVX_TO__COUNT; i++)
		if (!timeouts[i]) {
			NL_SET_ERR_MSG(extack, "svxlat: a flow timeout is zero");
			return NULL;
		}

	cfg = kzalloc(struct_size(cfg, services, n_services), GFP_KERNEL);
	if (!cfg) {
		*err = -ENOMEM;
		return NULL;
	}
	cfg->roles.flow.sal_mtu = nla_get_u16(tb[SVX_NLA_SAL_MTU]);
	cfg->roles.flow.tcp_mtu = nla_get_u16(tb[SVX_NLA_TCP_MTU]);
	cfg->roles.flow.ttl = nla_get_u8(tb[SVX_NLA_TTL]);
	cfg->roles.flow.max_retrans = nla_get_u8(tb[SVX_NLA_MAX_RETRANS]);
	cfg->roles.flow.rto_initial_ms = nla_get_u32(tb[SVX_NLA_RTO_INITIAL_MS]);
	cfg->roles.flow.rto_max_ms = nla_get_u32(tb[SVX_NLA_RTO_MAX_MS]);
	if (tb[SVX_NLA_FIN_ACK_DELAY_MS])
		cfg->roles.flow.fin_ack_delay_ms = nla_get_u32(tb[SVX_NLA_FIN_ACK_DELAY_MS]);
	for (i = 0; i < SVX_TO__COUNT; i++)
		cfg->timeout_ms[i] = timeouts[i];
	cfg->max_flows = nla_get_u32(tb[SVX_NLA_MAX_FLOWS]);
	cfg->max_embryonic = nla_get_u32(tb[SVX_NLA_MAX_EMBRYONIC]);
	if (tb[SVX_NLA_CONFIG_GEN])
		cfg->generation = nla_get_u64(tb[SVX_NLA_CONFIG_GEN]);
	if (tb[SVX_NLA_XLT_ADDR]) {
		cfg->roles.translator = true;
		memcpy(cfg->roles.xlt_addr, nla_data(tb[SVX_NLA_XLT_ADDR]), 4);
		if (tb[SVX_NLA_XLT_ROUTER]) {
			cfg->has_router = true;
			memcpy(cfg->xlt_router, nla_data(tb[SVX_NLA_XLT_ROUTER]), 4);
		}
		*err = svx_nl_parse_rows(cfg, nlh, extack);
		if (*err)
			goto fail;
		if (svx_nl_has(nlh, SVX_NLA_XLT_ROUTE)) {
			cfg->xlt_routes = svx_nl_build_routes(nlh, SVX_NLA_XLT_ROUTE, extack, err);
			if (!cfg->xlt_routes)
				goto fail;
		}
	} else if (svx_nl_has(nlh, SVX_NLA_XLT_ROUTE)) {
		NL_SET_ERR_MSG(extack, "svxlat: static services without a translator");
		*err = -EINVAL;
		goto fail;
	}
	if (tb[SVX_NLA_HOST_ADDR]) {
		cfg->roles.host = true;
		memcpy(cfg->roles.host_addr, nla_data(tb[SVX_NLA_HOST_ADDR]), 4);
		cfg->port_low = nla_get_u16(tb[SVX_NLA_HOST_PORT_LOW]);
		cfg->port_high = nla_get_u16(tb[SVX_NLA_HOST_PORT_HIGH]);
		*err = svx_nl_parse_services(cfg, nlh, extack);
		if (*err)
			goto fail;
		cfg->n_services = n_services;
		cfg->roles.host_services = cfg->services;
		cfg->roles.n_host_services = n_services;
	}
	if (tb[SVX_NLA_ROUTER_ADDR]) {
		cfg->roles.router = true;
		memcpy(cfg->roles.router_addr, nla_data(tb[SVX_NLA_ROUTER_ADDR]), 4);
		memcpy(cfg->roles.router_id.b, nla_data(tb[SVX_NLA_ROUTER_ID]), SVX_SID_LEN);
	}
	*err = 0;
	return cfg;
fail:
	svx_kcfg_free(cfg);
	return NULL;
}

static int svx_nl_set_config(struct sk_buff *skb, struct genl_info *info)
{
	struct svx_net *sn = svx_net_get(genl_info_net(info));
	struct nlattr *tb[SVX_NLA_MAX + 1];
	struct svx_kcfg *cfg;
	int err;

	err = svx_nl_parse(sn, info->nlhdr, tb, info->extack);
	if (err)
		return err;
	cfg = svx_nl_build_config(info->nlhdr, tb, info->extack, &err);
	if (!cfg)
		return svx_nl_reject(sn, err);
	err = svx_net_configure(sn, cfg);
	if (err) {
		svx_kcfg_free(cfg);
		NL_SET_ERR_MSG(info->extack, "svxlat: cannot register the netfilter hooks");
	}
	return err;
}

/* ------------------------------------------------------------ routes */

static int svx_route_target_addr_cmp(const void *a, const void *b)
{
	return memcmp(((const struct svx_route_target *)a)->addr,
		      ((const struct svx_route_target *)b)->addr, 4);
}

static int svx_route_entry_sort_cmp(const void *a, const void *b)
{
	return svx_route_entry_cmp(a, b);
}

/*
 * Counts the route nests of type (SVX_NLA_ROUTE in SET_ROUTES,
 * SVX_NLA_XLT_ROUTE in SET_CONFIG) and their TARGETs within nl.h's bounds.
 */
static int svx_nl_count_routes(const struct nlmsghdr *nlh, int type, u32 *n_routes,
			       u32 *n_targets, struct netlink_ext_ack *extack)
{
	const struct nlattr *a, *t;
	int rem, trem, err;

	err = svx_nl_count(nlh, type, SVX_NL_MAX_ROUTES, n_routes, extack);
	if (err)
		return err;
	*n_targets = 0;
	svx_nl_for_each_attr(a, nlh, rem) {
		u32 n = 0;

		if (nla_type(a) != type)
			continue;
		nla_for_each_nested(t, a, trem)
			if (nla_type(t) == SVX_NLA_ROUTE_TARGET)
				n++;
		if (!n || n > SVX_NL_MAX_TARGETS_PER_ROUTE) {
			NL_SET_ERR_MSG_ATTR(extack, a, "svxlat: a route needs 1..1024 targets");
			return -EINVAL;
		}
		*n_targets += n;
		if (*n_targets > SVX_NL_MAX_ROUTE_TARGETS) {
			NL_SET_ERR_MSG_ATTR(extack, a, "svxlat: too many route targets");
			return -E2BIG;
		}
	}
	return 0;
}

/* Fills one route's targets from its TARGET nests, sorted by address. */
static int svx_nl_parse_targets(struct svx_kroutes *r, struct svx_route_entry *e,
				const struct nlattr *route, struct netlink_ext_ack *extack)
{
	struct nlattr *tb[SVX_NLA_MAX + 1];
	const struct nlattr *t;
	int rem, err;
	u32 k;

	nla_for_each_nested(t, route, rem) {
		struct svx_route_target *tgt;

		if (nla_type(t) != SVX_NLA_ROUTE_TARGET)
			continue;
		err = nla_parse_nested(tb, SVX_NLA_MAX, t, svx_nl_policy, extack);
		if (err)
			return err;
		if (!tb[SVX_NLA_TGT_ADDR] || !tb[SVX_NLA_TGT_PRIORITY] || !tb[SVX_NLA_TGT_WEIGHT]) {
			NL_SET_ERR_MSG_ATTR(extack, t,
					    "svxlat: route target needs address, priority and weight");
			return -EINVAL;
		}
		tgt = &r->targets[e->first + e->n_targets++];
		memcpy(tgt->addr, nla_data(tb[SVX_NLA_TGT_ADDR]), 4);
		tgt->priority = nla_get_u32(tb[SVX_NLA_TGT_PRIORITY]);
		tgt->weight = nla_get_u32(tb[SVX_NLA_TGT_WEIGHT]);
	}
	sort(r->targets + e->first, e->n_targets, sizeof(*r->targets), svx_route_target_addr_cmp,
	     NULL);
	for (k = 1; k < e->n_targets; k++)
		if (!svx_route_target_addr_cmp(&r->targets[e->first + k - 1],
					       &r->targets[e->first + k])) {
			NL_SET_ERR_MSG_ATTR(extack, route, "svxlat: a route lists one address twice");
			return -EINVAL;
		}
	return 0;
}

/*
 * Builds a table from the route nests of type in a validated request; NULL
 * + *err on refusal.
 */
static struct svx_kroutes *svx_nl_build_routes(const struct nlmsghdr *nlh, int type,
					       struct netlink_ext_ack *extack, int *err)
{
	struct nlattr *tb[SVX_NLA_MAX + 1];
	u32 n_routes, n_targets, i = 0, used = 0;
	const struct nlattr *a;
	struct svx_kroutes *r;
	int rem;

	*err = svx_nl_count_routes(nlh, type, &n_routes, &n_targets, extack);
	if (*err)
		return NULL;
	r = svx_routes_alloc(n_routes, n_targets);
	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	svx_nl_for_each_attr(a, nlh, rem) {
		struct svx_route_entry *e;

		if (nla_type(a) != type)
			continue;
		*err = nla_parse_nested(tb, SVX_NLA_MAX, a, svx_nl_policy, extack);
		if (*err)
			goto fail;
		if (!tb[SVX_NLA_ROUTE_PREFIX] || !tb[SVX_NLA_ROUTE_BITS]) {
			NL_SET_ERR_MSG_ATTR(extack, a, "svxlat: route needs prefix and bits");
			*err = -EINVAL;
			goto fail;
		}
		e = &r->entries[i++];
		memcpy(e->prefix.b, nla_data(tb[SVX_NLA_ROUTE_PREFIX]), SVX_SID_LEN);
		e->bits = nla_get_u16(tb[SVX_NLA_ROUTE_BITS]);
		e->first = used;
		*err = svx_nl_parse_targets(r, e, a, extack);
		if (*err)
			goto fail;
		used += e->n_targets;
	}
	r->table.n_entries = n_routes;
	r->table.n_targets = n_targets;
	sort(r->entries, n_routes, sizeof(*r->entries), svx_route_entry_sort_cmp, NULL);
	if (svx_route_table_check(&r->table) != SVX_OK) {
		NL_SET_ERR_MSG(extack,
			       "svxlat: two routes for one prefix, or a prefix with bits past its length");
		*err = -EINVAL;
		goto fail;
	}
	*err = 0;
	return r;
fail:
	svx_routes_free(r);
	return NULL;
}

static int svx_nl_set_routes(struct sk_buff *skb, struct genl_info *info)
{
	struct svx_net *sn = svx_net_get(genl_info_net(info));
	struct nlattr *tb[SVX_NLA_MAX + 1];
	struct svx_kroutes *r;
	int err;

	err = svx_nl_parse(sn, info->nlhdr, tb, info->extack);
	if (err)
		return err;
	r = svx_nl_build_routes(info->nlhdr, SVX_NLA_ROUTE, info->extack, &err);
	if (!r)
		return svx_nl_reject(sn, err);
	if (tb[SVX_NLA_ROUTES_GEN]) {
		r->generation = nla_get_u64(tb[SVX_NLA_ROUTES_GEN]);
		r->has_generation = true;
	}
	svx_routes_replace(sn, r);
	return 0;
}

/* Targets per GET_ROUTES message: a route of 1024 would not fit one. */
#define SVX_NL_TARGETS_PER_MSG 64

/* A route and its targets [from, from + n) with their counts. */
static int svx_nl_put_route(struct sk_buff *skb, const struct svx_kroutes *r,
			    const struct svx_route_entry *e, u32 from, u32 n)
{
	struct nlattr *route, *tgt;
	u32 k;

	route = nla_nest_start(skb, SVX_NLA_ROUTE);
	if (!route || nla_put(skb, SVX_NLA_ROUTE_PREFIX, SVX_SID_LEN, e->prefix.b) ||
	    nla_put_u16(skb, SVX_NLA_ROUTE_BITS, e->bits))
		return -EMSGSIZE;
	for (k = from; k < from + n; k++) {
		const struct svx_route_target *t = &r->targets[e->first + k];

		tgt = nla_nest_start(skb, SVX_NLA_ROUTE_TARGET);
		if (!tgt || nla_put(skb, SVX_NLA_TGT_ADDR, 4, t->addr) ||
		    nla_put_u32(skb, SVX_NLA_TGT_PRIORITY, t->priority) ||
		    nla_put_u32(skb, SVX_NLA_TGT_WEIGHT, t->weight) ||
		    nla_put_u64_64bit(skb, SVX_NLA_TGT_CHOSEN,
				      (u64)atomic64_read(&r->chosen[e->first + k]), SVX_NLA_UNSPEC))
			return -EMSGSIZE;
		nla_nest_end(skb, tgt);
	}
	nla_nest_end(skb, route);
	return 0;
}

/*
 * Dump: one message per route, or several for a route of more than
 * SVX_NL_TARGETS_PER_MSG targets (same prefix and bits, the next targets).
 * cb->args[0] is the route to send next, cb->args[2] its first unsent
 * target, cb->args[3] the table (enum svx_nl_routes). A SET_ROUTES between
 * two batches continues in the new table at the same place.
 */
static int svx_nl_get_routes(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct svx_net *sn = svx_net_get(sock_net(skb->sk));
	struct nlattr *tb[SVX_NLA_MAX + 1];
	const struct svx_kroutes *r;
	u32 i = (u32)cb->args[0], from = (u32)cb->args[2], sent = 0;
	int err;

	if (!cb->args[1]) {	/* first call: check the request once, note its table */
		err = svx_nl_parse(sn, cb->nlh, tb, cb->extack);
		if (err)
			return err;
		cb->args[1] = 1;
		cb->args[3] = tb[SVX_NLA_ROUTES_TABLE] ? nla_get_u8(tb[SVX_NLA_ROUTES_TABLE]) :
			      SVX_NL_ROUTES_ROUTER;
	}
	rcu_read_lock();
	if (cb->args[3] == SVX_NL_ROUTES_ROUTER) {
		r = rcu_dereference(sn->routes);
	} else {
		const struct svx_kcfg *cfg = rcu_dereference(sn->cfg);

		r = cfg ? cfg->xlt_routes : NULL;
	}
	while (r && i < r->table.n_entries) {
		const struct svx_route_entry *e = &r->entries[i];
		void *hdr;
		u32 n;

		if (from >= e->n_targets) {	/* the table changed under the dump */
			i++;
			from = 0;
			continue;
		}
		n = min_t(u32, e->n_targets - from, SVX_NL_TARGETS_PER_MSG);
		hdr = svx_nl_reply_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				       NLM_F_MULTI, SVX_NL_CMD_GET_ROUTES);
		if (!hdr)
			break;
		if (svx_nl_put_route(skb, r, e, from, n)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		sent++;
		from += n;
		if (from == e->n_targets) {
			i++;
			from = 0;
		}
	}
	rcu_read_unlock();
	cb->args[0] = i;
	cb->args[2] = from;
	return sent ? skb->len : 0;
}

static int svx_nl_clear_config(struct sk_buff *skb, struct genl_info *info)
{
	struct svx_net *sn = svx_net_get(genl_info_net(info));
	struct nlattr *tb[SVX_NLA_MAX + 1];
	int err;

	err = svx_nl_parse(sn, info->nlhdr, tb, info->extack);
	if (err)
		return err;
	svx_net_unconfigure(sn);
	return 0;
}

static int svx_nl_get_stats(struct sk_buff *skb, struct genl_info *info)
{
	struct svx_net *sn = svx_net_get(genl_info_net(info));
	struct nlattr *tb[SVX_NLA_MAX + 1];
	u64 stats[SVX_ST__COUNT], drops[SVX_E__COUNT];
	struct sk_buff *msg;
	void *hdr;
	int err;

	err = svx_nl_parse(sn, info->nlhdr, tb, info->extack);
	if (err)
		return err;
	svx_stats_sum(sn, stats, drops);
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = svx_nl_reply_put(msg, info->snd_portid, info->snd_seq, 0, SVX_NL_CMD_GET_STATS);
	if (!hdr || nla_put(msg, SVX_NLA_STATS, sizeof(stats), stats) ||
	    nla_put(msg, SVX_NLA_DROPS, sizeof(drops), drops)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* Dump: cb->args[0] counts the flows already sent. */
static int svx_nl_get_flows(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct svx_net *sn = svx_net_get(sock_net(skb->sk));
	struct nlattr *tb[SVX_NLA_MAX + 1];
	struct svx_flow *batch;
	u32 n, i;
	int err;

	if (!cb->args[1]) {	/* first call: check the request once */
		err = svx_nl_parse(sn, cb->nlh, tb, cb->extack);
		if (err)
			return err;
		cb->args[1] = 1;
	}
	batch = kmalloc_array(SVX_NL_DUMP_BATCH, sizeof(*batch), GFP_KERNEL);
	if (!batch)
		return -ENOMEM;
	n = svx_flows_snapshot(sn, (u32)cb->args[0], batch, SVX_NL_DUMP_BATCH);
	for (i = 0; i < n; i++) {
		void *hdr = svx_nl_reply_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
					     NLM_F_MULTI, SVX_NL_CMD_GET_FLOWS);

		if (!hdr)
			break;
		if (nla_put(skb, SVX_NLA_FLOW, sizeof(batch[i]), &batch[i])) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	kfree(batch);
	cb->args[0] += i;
	return i ? skb->len : 0;
}

static const struct genl_small_ops svx_nl_ops[] = {
	{
		.cmd = SVX_NL_CMD_GET_INFO,
		.doit = svx_nl_get_info,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = SVX_NL_CMD_SET_CONFIG,
		.doit = svx_nl_set_config,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = SVX_NL_CMD_CLEAR_CONFIG,
		.doit = svx_nl_clear_config,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = SVX_NL_CMD_GET_STATS,
		.doit = svx_nl_get_stats,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = SVX_NL_CMD_GET_FLOWS,
		.dumpit = svx_nl_get_flows,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = SVX_NL_CMD_SET_ROUTES,
		.doit = svx_nl_set_routes,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = SVX_NL_CMD_GET_ROUTES,
		.dumpit = svx_nl_get_routes,
		.flags = GENL_ADMIN_PERM,
	},
};

static struct genl_family svx_nl_family __ro_after_init = {
	.name = SVX_NL_FAMILY,
	.version = SVX_NL_VERSION,
	.hdrsize = sizeof(struct svx_nl_hdr),
	/*
	 * No family policy, and every op below resv_start_op: the core then
	 * leaves attributes alone and the handlers parse them strictly
	 * themselves, so that each refusal is counted (nl_rejected).
	 */
	.maxattr = 0,
	.resv_start_op = SVX_NL_CMD__COUNT,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = svx_nl_ops,
	.n_small_ops = ARRAY_SIZE(svx_nl_ops),
};

int svx_netlink_init(void)
{
	return genl_register_family(&svx_nl_family);
}

void svx_netlink_exit(void)
{
	genl_unregister_family(&svx_nl_family);
}
