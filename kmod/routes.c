// SPDX-License-Identifier: GPL-2.0
/*
 * Route tables in the module (include/svxlat/route.h): the service
 * router's, one per namespace replaced as a whole by SET_ROUTES, and the
 * translator's static services, part of the configuration (SET_CONFIG).
 * Both are immutable once published and read under RCU by the packet path,
 * with a "chosen" counter per target that survives replacement for the
 * same (prefix, bits, address).
 */
#include <linux/atomic.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "svxlat_kmod.h"

struct svx_kroutes *svx_routes_alloc(u32 n_entries, u32 n_targets)
{
	struct svx_kroutes *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (!r)
		return NULL;
	r->entries = kvcalloc(max(n_entries, 1u), sizeof(*r->entries), GFP_KERNEL);
	r->targets = kvcalloc(max(n_targets, 1u), sizeof(*r->targets), GFP_KERNEL);
	r->chosen = kvcalloc(max(n_targets, 1u), sizeof(*r->chosen), GFP_KERNEL);
	if (!r->entries || !r->targets || !r->chosen) {
		svx_routes_free(r);
		return NULL;
	}
	r->table.entries = r->entries;
	r->table.targets = r->targets;
	return r;
}

void svx_routes_free(struct svx_kroutes *r)
{
	if (!r)
		return;
	kvfree(r->entries);
	kvfree(r->targets);
	kvfree(r->chosen);
	kfree(r);
}

/*
 * Adds old's counts to next's targets with the same prefix, bits and
 * address. Called after a grace period: no packet counts on old any more.
 */
void svx_routes_carry_counts(const struct svx_kroutes *old, struct svx_kroutes *next)
{
	u32 i, k, j;

	for (i = 0; i < old->table.n_entries; i++) {
		const struct svx_route_entry *oe = &old->entries[i];
		const struct svx_route_entry *ne = svx_route_find(&next->table, &oe->prefix, oe->bits);

		if (!ne)
			continue;
		for (k = 0; k < oe->n_targets; k++) {
			s64 n = atomic64_read(&old->chosen[oe->first + k]);

			if (!n)
				continue;
			for (j = 0; j < ne->n_targets; j++)
				if (!memcmp(old->targets[oe->first + k].addr,
					    next->targets[ne->first + j].addr, 4)) {
					atomic64_add(n, &next->chosen[ne->first + j]);
					break;
				}
		}
	}
}

/*
 * Publishes next (NULL: no table) in place of the namespace's table. After
 * the grace period no packet reads the old table, so its counts are final
 * when they are carried over.
 */
void svx_routes_replace(struct svx_net *sn, struct svx_kroutes *next)
{
	struct svx_kroutes *old;

	mutex_lock(&sn->cfg_mutex);
	old = rcu_dereference_protected(sn->routes, lockdep_is_held(&sn->cfg_mutex));
	rcu_assign_pointer(sn->routes, next);
	mutex_unlock(&sn->cfg_mutex);
	if (!old)
		return;
	synchronize_rcu();
	if (next)
		svx_routes_carry_counts(old, next);
	svx_routes_free(old);
}

/* Packet path, under rcu_read_lock (netfilter hooks). */
bool svx_routes_resolve(const struct svx_kroutes *r, const struct svx_sid *id, u8 *target)
{
	const struct svx_route_entry *e;
	int i;

	if (!r)
		return false;
	e = svx_route_lookup(&r->table, id);
	if (!e)
		return false;
	/* Targets carry no expiry here: svxlatd pushes the table when one
	 * expires (static services never do).
	 */
	i = svx_route_pick(r->targets + e->first, e->n_targets, 0, get_random_u64());
	if (i < 0)
		return false;
	memcpy(target, r->targets[e->first + (u32)i].addr, 4);
	atomic64_inc(&r->chosen[e->first + (u32)i]);
	return true;
}
