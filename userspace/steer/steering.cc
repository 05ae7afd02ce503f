// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "steer/steering.h"

#include "common/field_text.h"

#include "steer/command.h"

#include <nftables/libnftables.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <type_traits>
#include <utility>

namespace svxlat::steer {

namespace {

constexpr std::string_view kPreChain = "SVXLAT-PRE";
constexpr std::string_view kOutChain = "SVXLAT-OUT";
constexpr std::string_view kTcpSportChain = "SVXLAT-TCP-SPORT";
constexpr std::string_view kTcpDportChain = "SVXLAT-TCP-DPORT";
constexpr std::string_view kSalChain = "SVXLAT-SAL";
constexpr std::string_view kIcmpChain = "SVXLAT-ICMP";

// u32 reads 32-bit words at byte offsets from the IP header; "0>>22&0x3C"
// is the IP header length in bytes, and "@" moves to it (the transport
// header). See docs/steering.md for each expression.
constexpr std::string_view kIpHeaderLength = "0>>22&0x3C";
constexpr std::string_view kNotFragment = "4&0x1FFF=0"; // fragment offset 0

std::string hex(std::uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%X", value);
    return text;
}

std::string lower_hex(std::uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%x", value);
    return text;
}

template <class T> std::vector<T> unique_in_order(const std::vector<T>& items) {
    std::vector<T> out;
    for (const T& item : items) {
        const bool seen = std::any_of(out.begin(), out.end(), [&](const T& o) {
            if constexpr (std::is_same_v<T, AddressPort>)
                return o.address == item.address && o.port == item.port;
            else
                return o == item;
        });
        if (!seen)
            out.push_back(item);
    }
    return out;
}

struct QueueChoice {
    std::uint32_t mask; // N - 1
    std::uint16_t base;
    bool bypass;
};

QueueChoice queue_choice(const SteeringSpec& spec) {
    return {static_cast<std::uint32_t>(spec.queue_count - 1u), spec.queue_base, spec.fail_open};
}

bool icmp_enabled(const SteeringSpec& spec) {
    return spec.icmp_inbound && !spec.sal_inbound.empty();
}

// --- iptables --------------------------------------------------------------

std::string iptables_queue_target(const QueueChoice& q, std::uint32_t k) {
    std::string target = "-j NFQUEUE --queue-num " + std::to_string(q.base + k);
    if (q.bypass)
        target += " --queue-bypass";
    return target;
}

// Selectors of queue k: a packet matching any of them goes to base + k.
using SelectorsPerQueue = std::vector<std::vector<std::string>>;

// The selectors' rules, queue by queue (none with one queue), then the
// catch-all to queue base.
void iptables_queue_chain(std::string& out, std::string_view chain, const QueueChoice& q,
                          bool notrack, const SelectorsPerQueue& selectors) {
    const std::string prefix = "-A " + std::string(chain) + " ";
    if (notrack)
        out += prefix + "-j CT --notrack\n";
    if (q.mask > 0) {
        for (std::uint32_t k = 0; k <= q.mask; ++k)
            for (const auto& selector : selectors[k])
                out += prefix + "-m u32 --u32 \"" + selector + "\" " + iptables_queue_target(q, k) +
                       "\n";
    }
    out += prefix + iptables_queue_target(q, 0) + "\n";
}

// "CONDITIONS && FIELD&MASK=K" (or "FIELD&MASK=K") for every queue k.
SelectorsPerQueue u32_selectors(const QueueChoice& q, const std::string& field,
                                const std::string& conditions = {}) {
    SelectorsPerQueue selectors(q.mask + 1);
    for (std::uint32_t k = 0; k <= q.mask; ++k)
        selectors[k].push_back((conditions.empty() ? "" : conditions + " && ") + field + "&" +
                               hex(q.mask) + "=" + hex(k));
    return selectors;
}

// Queue k matches if any selector of a or of b does.
SelectorsPerQueue either(SelectorsPerQueue a, const SelectorsPerQueue& b) {
    for (std::size_t k = 0; k < a.size(); ++k)
        a[k].insert(a[k].end(), b[k].begin(), b[k].end());
    return a;
}

std::vector<std::string_view> iptables_chains(const SteeringSpec& spec) {
    std::vector<std::string_view> chains{kPreChain, kOutChain};
    if (!spec.tcp_inbound.empty() || !spec.tcp_local_outbound.empty())
        chains.push_back(kTcpSportChain);
    if (!spec.tcp_service_outbound.empty())
        chains.push_back(kTcpDportChain);
    if (!spec.sal_inbound.empty())
        chains.push_back(kSalChain);
    if (icmp_enabled(spec))
        chains.push_back(kIcmpChain);
    return chains;
}

std::string iptables_jump(std::string_view builtin, std::string_view chain) {
    return std::string(builtin) + " -m comment --comment " + std::string(kIptablesJumpComment) +
           " -j " + std::string(chain);
}

// --- nft -------------------------------------------------------------------

std::string nft_queue_statement(const QueueChoice& q, std::uint32_t k) {
    return "queue num " + std::to_string(q.base + k) + (q.bypass ? " bypass" : "");
}

void nft_queue_chain(std::string& out, std::string_view chain, const QueueChoice& q,
                     const SelectorsPerQueue& selectors) {
    out += "\tchain " + std::string(chain) + " {\n";
    if (q.mask > 0) {
        for (std::uint32_t k = 0; k <= q.mask; ++k)
            for (const auto& selector : selectors[k])
                out += "\t\t" + selector + " " + nft_queue_statement(q, k) + "\n";
    }
    out += "\t\t" + nft_queue_statement(q, 0) + "\n";
    out += "\t}\n";
}

// "CONDITIONS FIELD & MASK == K" for every queue k.
SelectorsPerQueue nft_selectors(const QueueChoice& q, const std::string& field,
                                const std::string& conditions = {}) {
    SelectorsPerQueue selectors(q.mask + 1);
    for (std::uint32_t k = 0; k <= q.mask; ++k)
        selectors[k].push_back((conditions.empty() ? "" : conditions + " ") + field + " & " +
                               lower_hex(q.mask) + " == " + lower_hex(k));
    return selectors;
}

void nft_pair_set(std::string& out, std::string_view name, const std::vector<AddressPort>& pairs) {
    if (pairs.empty())
        return;
    out +=
        "\tset " + std::string(name) + " {\n\t\ttype ipv4_addr . inet_service\n\t\telements = { ";
    bool first = true;
    for (const auto& pair : unique_in_order(pairs)) {
        out +=
            (first ? "" : ", ") + format_address(pair.address) + " . " + std::to_string(pair.port);
        first = false;
    }
    out += " }\n\t}\n";
}

void nft_address_set(std::string& out, std::string_view name,
                     const std::vector<Ipv4Address>& addresses) {
    if (addresses.empty())
        return;
    out += "\tset " + std::string(name) + " {\n\t\ttype ipv4_addr\n\t\telements = { ";
    bool first = true;
    for (const auto& address : unique_in_order(addresses)) {
        out += (first ? "" : ", ") + format_address(address);
        first = false;
    }
    out += " }\n\t}\n";
}

// --- libnftables -----------------------------------------------------------

struct NftResult {
    bool ok = false;
    std::string output;
    std::string error;
};

NftResult run_nft(const std::string& commands) {
    NftResult result;
    std::unique_ptr<nft_ctx, decltype(&nft_ctx_free)> ctx(nft_ctx_new(NFT_CTX_DEFAULT),
                                                          &nft_ctx_free);
    if (!ctx) {
        result.error = "nft_ctx_new failed";
        return result;
    }
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    result.ok = nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) == 0;
    if (const char* text = nft_ctx_get_output_buffer(ctx.get()))
        result.output = text;
    if (const char* text = nft_ctx_get_error_buffer(ctx.get()))
        result.error = text;
    return result;
}

std::string trim(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

CommandResult run_iptables_restore(const IptablesTools& tools, const std::string& script) {
    return run_command({tools.restore, "-w", "--noflush"}, script);
}

} // namespace

std::string format_address(const Ipv4Address& address) { return format_ipv4(address); }

std::string_view to_string(Backend backend) {
    switch (backend) {
    case Backend::automatic:
        return "automatic";
    case Backend::iptables:
        return "iptables";
    case Backend::nft:
        return "nft";
    }
    return "?";
}

std::optional<std::string> validate(const SteeringSpec& spec) {
    const unsigned n = spec.queue_count;
    if (n < 1 || n > 64 || (n & (n - 1)) != 0)
        return "queue_count must be a power of two from 1 to 64 (got " + std::to_string(n) + ")";
    if (unsigned{spec.queue_base} + n - 1 > 65535)
        return "queues " + std::to_string(spec.queue_base) + ".." +
               std::to_string(unsigned{spec.queue_base} + n - 1) + " exceed 65535";
    if (spec.skip_mark == 0)
        return "skip_mark must be nonzero (mark 0 is every unmarked packet)";
    auto zero_port = [](const std::vector<AddressPort>& pairs) {
        return std::any_of(pairs.begin(), pairs.end(),
                           [](const AddressPort& p) { return p.port == 0; });
    };
    if (zero_port(spec.tcp_inbound) || zero_port(spec.tcp_local_outbound) ||
        zero_port(spec.tcp_service_outbound))
        return "port 0 in a TCP (address, port) pair";
    if (spec.icmp_inbound && spec.sal_inbound.empty())
        return "icmp_inbound needs sal_inbound addresses";
    for (const auto& address : spec.router_inbound)
        if (std::find(spec.sal_inbound.begin(), spec.sal_inbound.end(), address) ==
            spec.sal_inbound.end())
            return "router_inbound address " + format_address(address) + " is not in sal_inbound";
    if (!spec.router_inbound.empty()) {
        if (spec.broadcast_mark == 0)
            return "broadcast_mark must be nonzero (mark 0 is every unmarked packet)";
        if (spec.broadcast_mark == spec.skip_mark)
            return "broadcast_mark must differ from skip_mark (the engine's own packets)";
    }
    if (spec.tcp_inbound.empty() && spec.tcp_local_outbound.empty() && spec.sal_inbound.empty() &&
        spec.tcp_service_outbound.empty())
        return "nothing to steer: every rule set is empty";
    return std::nullopt;
}

// ---------------------------------------------------------------------------
// iptables

std::string iptables_install_script(const SteeringSpec& spec) {
    const QueueChoice q = queue_choice(spec);
    const std::string ihl(kIpHeaderLength);
    const std::string mark = lower_hex(spec.skip_mark);
    std::string out = "*raw\n";
    for (auto chain : iptables_chains(spec))
        out += "-N " + std::string(chain) + "\n";

    // Queue chains: each ends with the catch-all to queue base.
    if (!spec.tcp_inbound.empty() || !spec.tcp_local_outbound.empty())
        iptables_queue_chain(out, kTcpSportChain, q, spec.notrack_queued,
                             u32_selectors(q, ihl + "@0>>16"));
    if (!spec.tcp_service_outbound.empty())
        iptables_queue_chain(out, kTcpDportChain, q, spec.notrack_queued,
                             u32_selectors(q, ihl + "@0"));
    if (!spec.sal_inbound.empty()) {
        // "@4" is the destination flow ID; when it is 0 (SYN, datagram) the
        // source flow ID "@0" chooses.
        const std::string not_fragment(kNotFragment);
        iptables_queue_chain(
            out, kSalChain, q, spec.notrack_queued,
            either(
                u32_selectors(q, ihl + "@0", not_fragment + " && " + ihl + "@4=0"),
                u32_selectors(q, ihl + "@4", not_fragment + " && " + ihl + "@4=0x1:0xFFFFFFFF")));
    }
    if (icmp_enabled(spec))
        iptables_queue_chain(out, kIcmpChain, q, spec.notrack_queued,
                             u32_selectors(q, ihl + "@28"));

    // The engine's own packets: no queue, no conntrack.
    auto skip_marked = [&](std::string_view chain) {
        const std::string prefix = "-A " + std::string(chain) + " -m mark --mark " + mark;
        out += prefix + " -j CT --notrack\n";
        out += prefix + " -j RETURN\n";
    };
    skip_marked(kPreChain);
    for (const auto& pair : unique_in_order(spec.tcp_inbound))
        out += "-A " + std::string(kPreChain) + " -d " + format_address(pair.address) +
               "/32 -p tcp -m tcp --dport " + std::to_string(pair.port) + " -j " +
               std::string(kTcpSportChain) + "\n";
    // Before the SAL jumps: the queued packet carries the mark, the only way
    // the engine learns how the frame was addressed (section 12 step 1).
    for (const auto& address : unique_in_order(spec.router_inbound))
        for (std::string_view type : {"broadcast", "multicast"})
            out += "-A " + std::string(kPreChain) + " -d " + format_address(address) + "/32 -p " +
                   std::to_string(kSalProtocol) + " -m pkttype --pkt-type " + std::string(type) +
                   " -j MARK --set-mark " + lower_hex(spec.broadcast_mark) + "\n";
    for (const auto& address : unique_in_order(spec.sal_inbound))
        out += "-A " + std::string(kPreChain) + " -d " + format_address(address) + "/32 -p " +
               std::to_string(kSalProtocol) + " -j " + std::string(kSalChain) + "\n";
    if (icmp_enabled(spec)) {
        // Destination unreachable quoting an IPv4 header without options
        // (the engine sends none) whose protocol is SAL.
        const std::string quoted =
            ihl + "@8>>24=0x45 && " + ihl + "@16>>16&0xFF=" + hex(kSalProtocol);
        for (const auto& address : unique_in_order(spec.sal_inbound))
            out += "-A " + std::string(kPreChain) + " -d " + format_address(address) +
                   "/32 -p icmp -m icmp --icmp-type 3 -m u32 --u32 \"" + quoted + "\" -j " +
                   std::string(kIcmpChain) + "\n";
    }
    skip_marked(kOutChain);
    for (const auto& pair : unique_in_order(spec.tcp_local_outbound))
        out += "-A " + std::string(kOutChain) + " -d " + format_address(pair.address) +
               "/32 -p tcp -m tcp --dport " + std::to_string(pair.port) + " -j " +
               std::string(kTcpSportChain) + "\n";
    for (const auto& pair : unique_in_order(spec.tcp_service_outbound))
        out += "-A " + std::string(kOutChain) + " -s " + format_address(pair.address) +
               "/32 -p tcp -m tcp --sport " + std::to_string(pair.port) + " -j " +
               std::string(kTcpDportChain) + "\n";

    // The jumps last: the chains are complete before any packet enters them
    // (the whole commit is atomic anyway).
    out += "-I " + iptables_jump("PREROUTING", kPreChain) + "\n";
    out += "-I " + iptables_jump("OUTPUT", kOutChain) + "\n";
    out += "COMMIT\n";
    return out;
}

std::string iptables_remove_script(const SteeringSpec& spec) {
    std::string out = "*raw\n";
    out += "-D " + iptables_jump("PREROUTING", kPreChain) + "\n";
    out += "-D " + iptables_jump("OUTPUT", kOutChain) + "\n";
    const auto chains = iptables_chains(spec);
    for (auto chain : chains)
        out += "-F " + std::string(chain) + "\n";
    for (auto chain : chains)
        out += "-X " + std::string(chain) + "\n";
    out += "COMMIT\n";
    return out;
}

std::string iptables_replace_script(const SteeringSpec& old_spec, const SteeringSpec& new_spec) {
    // Both scripts are "*raw\n ... COMMIT\n": join their bodies.
    auto body = [](std::string script) {
        script.erase(0, std::string_view("*raw\n").size());
        script.resize(script.size() - std::string_view("COMMIT\n").size());
        return script;
    };
    return "*raw\n" + body(iptables_remove_script(old_spec)) +
           body(iptables_install_script(new_spec)) + "COMMIT\n";
}

std::string iptables_cleanup_script(std::string_view save) {
    std::vector<std::string> chains;
    std::vector<std::string> jumps;
    bool in_raw = false;
    while (!save.empty()) {
        const auto eol = save.find('\n');
        std::string_view line = save.substr(0, eol);
        save = eol == std::string_view::npos ? std::string_view{} : save.substr(eol + 1);
        if (line.starts_with("*")) {
            in_raw = line == "*raw";
            continue;
        }
        if (!in_raw)
            continue;
        if (line.starts_with(":")) {
            std::string_view name = line.substr(1, line.find(' ') - 1);
            if (name.starts_with(kIptablesChainPrefix))
                chains.emplace_back(name);
            continue;
        }
        if (!line.starts_with("-A "))
            continue;
        std::string_view rest = line.substr(3);
        std::string_view chain = rest.substr(0, rest.find(' '));
        if (chain.starts_with(kIptablesChainPrefix))
            continue; // flushed with its chain
        const std::string jump = " -j " + std::string(kIptablesChainPrefix);
        const std::string go = " -g " + std::string(kIptablesChainPrefix);
        if (rest.find(jump) != std::string_view::npos || rest.find(go) != std::string_view::npos)
            jumps.push_back("-D " + std::string(rest));
    }
    if (chains.empty() && jumps.empty())
        return {};
    std::string out = "*raw\n";
    for (const auto& jump : jumps)
        out += jump + "\n";
    for (const auto& chain : chains)
        out += "-F " + chain + "\n";
    for (const auto& chain : chains)
        out += "-X " + chain + "\n";
    out += "COMMIT\n";
    return out;
}

// ---------------------------------------------------------------------------
// nft

std::string nft_table_body(const SteeringSpec& spec) {
    const QueueChoice q = queue_choice(spec);
    const std::string notrack = spec.notrack_queued ? "notrack " : "";
    std::string out = "table ip " + std::string(kNftTable) + " {\n";
    nft_pair_set(out, "tcp_inbound", spec.tcp_inbound);
    nft_pair_set(out, "tcp_local_outbound", spec.tcp_local_outbound);
    nft_pair_set(out, "tcp_service_outbound", spec.tcp_service_outbound);
    nft_address_set(out, "sal_inbound", spec.sal_inbound);
    nft_address_set(out, "router_inbound", spec.router_inbound);

    // Queue chains (regular chains, reached by goto).
    if (!spec.tcp_inbound.empty() || !spec.tcp_local_outbound.empty())
        nft_queue_chain(out, "tcp_by_sport", q, nft_selectors(q, "tcp sport"));
    if (!spec.tcp_service_outbound.empty())
        nft_queue_chain(out, "tcp_by_dport", q, nft_selectors(q, "tcp dport"));
    if (!spec.sal_inbound.empty()) // @th,32,32: destination flow ID, @th,0,32: source
        nft_queue_chain(out, "sal_by_flowid", q,
                        either(nft_selectors(q, "@th,0,32", "@th,32,32 0x0"),
                               nft_selectors(q, "@th,32,32", "@th,32,32 != 0x0")));
    if (icmp_enabled(spec)) // @th,224,32: the quoted SAL header's source flow ID
        nft_queue_chain(out, "icmp_by_flowid", q, nft_selectors(q, "@th,224,32"));

    const std::string mark = lower_hex(spec.skip_mark);
    out += "\tchain prerouting {\n\t\ttype filter hook prerouting priority raw; policy accept;\n";
    out += "\t\tmeta mark " + mark + " notrack return\n";
    if (!spec.tcp_inbound.empty())
        out += "\t\tip daddr . tcp dport @tcp_inbound " + notrack + "goto tcp_by_sport\n";
    if (!spec.router_inbound.empty()) // before the goto: the queued packet carries the mark
        out += "\t\tip protocol " + std::to_string(kSalProtocol) +
               " ip daddr @router_inbound meta pkttype { broadcast, multicast } meta mark set " +
               lower_hex(spec.broadcast_mark) + "\n";
    if (!spec.sal_inbound.empty())
        out += "\t\tip protocol " + std::to_string(kSalProtocol) + " ip daddr @sal_inbound " +
               notrack + "goto sal_by_flowid\n";
    if (icmp_enabled(spec))
        out += "\t\tip daddr @sal_inbound icmp type destination-unreachable @th,64,8 0x45 "
               "@th,136,8 " +
               std::to_string(kSalProtocol) + " " + notrack + "goto icmp_by_flowid\n";
    out += "\t}\n";
    out += "\tchain output {\n\t\ttype filter hook output priority raw; policy accept;\n";
    out += "\t\tmeta mark " + mark + " notrack return\n";
    if (!spec.tcp_local_outbound.empty())
        out += "\t\tip daddr . tcp dport @tcp_local_outbound " + notrack + "goto tcp_by_sport\n";
    if (!spec.tcp_service_outbound.empty())
        out += "\t\tip saddr . tcp sport @tcp_service_outbound " + notrack + "goto tcp_by_dport\n";
    out += "\t}\n}\n";
    return out;
}

std::string nft_install_script(const SteeringSpec& spec) {
    return "create table ip " + std::string(kNftTable) + "\n" + nft_table_body(spec);
}

std::string nft_remove_script() {
    return "delete table ip " + std::string(kNftTable) + "\n";
}

std::string nft_replace_script(const SteeringSpec& new_spec) {
    return nft_remove_script() + nft_install_script(new_spec);
}

bool nft_queue_supported() {
    // One transaction: add a scratch table with a queue rule in a chain
    // without a hook (it never sees a packet) and delete it again. The
    // kernel refuses the whole batch when it lacks the queue expression.
    const std::string table = "svxlat_probe_" + std::to_string(::getpid());
    const std::string commands = "add table ip " + table + "\nadd chain ip " + table +
                                 " probe\nadd rule ip " + table +
                                 " probe queue num 0 bypass\ndelete table ip " + table + "\n";
    return run_nft(commands).ok;
}

Backend detect_backend() {
    return nft_queue_supported() ? Backend::nft : Backend::iptables;
}

// ---------------------------------------------------------------------------
// Steering

Steering::Steering(SteeringSpec spec, Backend backend, IptablesTools tools)
    : spec_(std::move(spec)), backend_(backend), tools_(std::move(tools)) {
    if (auto problem = validate(spec_))
        throw std::invalid_argument("steering: " + *problem);
    if (backend_ == Backend::automatic)
        backend_ = detect_backend();
}

Steering::Steering(Steering&& other) noexcept
    : spec_(std::move(other.spec_)), backend_(other.backend_), tools_(std::move(other.tools_)),
      installed_(std::exchange(other.installed_, false)) {}

Steering::~Steering() {
    try {
        remove();
    } catch (...) {
        // A destructor cannot report; cleanup_stale() removes leftovers.
    }
}

void Steering::install() {
    if (installed_)
        return;
    if (backend_ == Backend::nft) {
        const NftResult result = run_nft(nft_install_script(spec_));
        if (!result.ok)
            throw SteeringError("steering (nft): install failed (an existing table ip svxlat is "
                                "a leftover: cleanup_stale) : " +
                                trim(result.error));
    } else {
        const CommandResult result = run_iptables_restore(tools_, iptables_install_script(spec_));
        if (!result.ok())
            throw SteeringError("steering (iptables): install failed (existing SVXLAT-* chains "
                                "are leftovers: cleanup_stale): " +
                                result.describe(tools_.restore));
    }
    // Both are one transaction: a failure above added nothing.
    installed_ = true;
}

void Steering::remove() {
    if (!installed_)
        return;
    if (backend_ == Backend::nft) {
        const NftResult result = run_nft(nft_remove_script());
        if (!result.ok)
            throw SteeringError("steering (nft): remove failed: " + trim(result.error));
    } else {
        const CommandResult result = run_iptables_restore(tools_, iptables_remove_script(spec_));
        if (!result.ok())
            throw SteeringError("steering (iptables): remove failed: " +
                                result.describe(tools_.restore));
    }
    installed_ = false;
}

void Steering::replace(SteeringSpec spec) {
    if (auto problem = validate(spec))
        throw std::invalid_argument("steering: " + *problem);
    if (installed_) {
        if (backend_ == Backend::nft) {
            const NftResult result = run_nft(nft_replace_script(spec));
            if (!result.ok)
                throw SteeringError("steering (nft): replace failed, old rules kept: " +
                                    trim(result.error));
        } else {
            const CommandResult result =
                run_iptables_restore(tools_, iptables_replace_script(spec_, spec));
            if (!result.ok())
                throw SteeringError("steering (iptables): replace failed, old rules kept: " +
                                    result.describe(tools_.restore));
        }
    }
    spec_ = std::move(spec);
}

std::string Steering::cleanup_stale(const IptablesTools& tools) {
    std::string report;
    if (find_program(tools.save) && find_program(tools.restore)) {
        const CommandResult saved = run_command({tools.save, "-t", "raw"});
        if (saved.ok()) {
            const std::string script = iptables_cleanup_script(saved.out);
            if (!script.empty()) {
                const CommandResult result = run_iptables_restore(tools, script);
                if (!result.ok())
                    throw SteeringError("steering: cleanup of SVXLAT-* chains failed: " +
                                        result.describe(tools.restore));
                report += "removed iptables chains and jumps:\n" + script;
            }
        }
    }
    if (run_nft("list table ip " + std::string(kNftTable) + "\n").ok) {
        const NftResult result = run_nft(nft_remove_script());
        if (!result.ok)
            throw SteeringError("steering: cleanup of table ip svxlat failed: " +
                                trim(result.error));
        report += "removed nft table ip " + std::string(kNftTable) + "\n";
    }
    return report;
}

} // namespace svxlat::steer
