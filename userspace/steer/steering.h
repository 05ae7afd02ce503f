// SPDX-License-Identifier: GPL-2.0 OR MIT
// The engine's own steering rules: which packets go to which NFQUEUE queue.
// Installs and removes only its own objects (nft table `ip svxlat`, or the
// iptables chains SVXLAT-* in table raw and the two jumps to them marked
// with the comment "svxlat"); docs/steering.md explains every choice and
// rules/ holds the same rules for operators who load them by hand.
//
// Queue selection: N = queue_count queues, base..base+N-1. A packet goes to
// base + (field & (N-1)), where the field is one the engine allocates so
// that both directions of a flow meet on one queue:
//   tcp_inbound, tcp_local_outbound   TCP source port of the client
//   tcp_service_outbound              TCP destination port
//   sal_inbound                       SAL destination flow ID, or the source
//                                     flow ID when the destination is 0
//   icmp_inbound                      source flow ID of the SAL packet quoted
//                                     in the ICMP error (one the engine sent)
// A packet whose field cannot be read (truncated, non-first fragment) goes
// to queue base, where the engine counts and drops it.
//
// SAL packets to a service router's address (router_inbound) that arrived
// in a link-layer broadcast or multicast frame get broadcast_mark before
// they are queued: NFQUEUE does not report the packet type, the mark does,
// and the router never forwards them (protocol section 12 step 1).
//
// The rule text comes from pure functions, so tests compare it without root.
//
// Include as "steer/steering.h" (link svxlat_steer).
#ifndef SVXLAT_STEER_STEERING_H
#define SVXLAT_STEER_STEERING_H

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace svxlat::steer {

// Bytes in the order they are written: 10.0.2.1 is {10, 0, 2, 1} (the same
// representation as config::Ipv4Address).
using Ipv4Address = std::array<std::uint8_t, 4>;

struct AddressPort {
    Ipv4Address address{};
    std::uint16_t port = 0; // host order
};

inline constexpr std::uint8_t kSalProtocol = 144;

struct SteeringSpec {
    std::uint16_t queue_base = 0;
    std::uint16_t queue_count = 1; // power of two, 1..64
    // Mark of the engine's injected packets (InjectorOptions::mark): they
    // skip every queue rule and conntrack. Nonzero.
    std::uint32_t skip_mark = 0;
    // Mark given to SAL packets to a router_inbound address that arrived in
    // a link-layer broadcast or multicast frame; the engine reads it back
    // from the queued packet. Nonzero and not skip_mark when router_inbound
    // is not empty.
    std::uint32_t broadcast_mark = 0;
    // --queue-bypass / `bypass`: with no program bound to a queue its
    // packets are accepted (fail open) instead of dropped (fail closed).
    bool fail_open = false;
    // Exempt queued packets from conntrack too: the engine keeps its own flow
    // state, and conntrack would see only one side of each rewrite.
    bool notrack_queued = true;

    std::vector<AddressPort> tcp_inbound;          // PREROUTING, TCP to public (IP, port)
    std::vector<AddressPort> tcp_local_outbound;   // OUTPUT, TCP to public (IP, port)
    std::vector<Ipv4Address> sal_inbound;          // PREROUTING, IP protocol 144 to these
    std::vector<AddressPort> tcp_service_outbound; // OUTPUT, TCP from local (IP, port)
    // The service router's addresses, each one of sal_inbound: their SAL
    // packets in broadcast or multicast frames are marked broadcast_mark.
    std::vector<Ipv4Address> router_inbound;
    // PREROUTING, ICMP destination unreachable (any code, frag-needed among
    // them) to the sal_inbound addresses that quotes a SAL packet.
    bool icmp_inbound = false;
};

// Why the spec cannot be installed; nullopt when it can.
std::optional<std::string> validate(const SteeringSpec& spec);

// Thrown by install/remove with the tool's own error text.
class SteeringError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Backend { automatic, iptables, nft };
std::string_view to_string(Backend backend);

// Which iptables flavour runs the rules (iptables-nft or iptables-legacy).
struct IptablesTools {
    std::string restore = "iptables-restore";
    std::string save = "iptables-save";
};

inline constexpr std::string_view kNftTable = "svxlat";             // table ip svxlat
inline constexpr std::string_view kIptablesChainPrefix = "SVXLAT-"; // chains in table raw
inline constexpr std::string_view kIptablesJumpComment = "svxlat";

// --- Pure rule text ------------------------------------------------------
// nft: `create table ip svxlat` (fails if it exists) followed by the table
// body; one transaction.
std::string nft_install_script(const SteeringSpec& spec);
// The `table ip svxlat { ... }` block alone (what rules/svxlat.nft holds).
std::string nft_table_body(const SteeringSpec& spec);
std::string nft_remove_script();
// Delete and re-create the table in one transaction.
std::string nft_replace_script(const SteeringSpec& new_spec);
// iptables-restore --noflush input for table raw. -N fails when a chain
// exists, so a second install (or leftovers) fails as a whole.
std::string iptables_install_script(const SteeringSpec& spec);
std::string iptables_remove_script(const SteeringSpec& spec);
// Removal of old_spec's rules and installation of new_spec's in one commit.
std::string iptables_replace_script(const SteeringSpec& old_spec, const SteeringSpec& new_spec);
// From `iptables-save -t raw` output: the restore input deleting every
// SVXLAT-* chain and every jump to one. Empty when there is nothing.
std::string iptables_cleanup_script(std::string_view iptables_save_raw);
// "10.0.2.1"
std::string format_address(const Ipv4Address& address);

// --- Kernel --------------------------------------------------------------
// True when this kernel accepts nft's `queue` statement. Probes with one
// transaction that adds and deletes a scratch table, so nothing remains.
bool nft_queue_supported();
// nft when nft_queue_supported(), else iptables.
Backend detect_backend();

class Steering {
public:
    // Validates (std::invalid_argument) and resolves Backend::automatic;
    // installs nothing yet.
    explicit Steering(SteeringSpec spec, Backend backend = Backend::automatic,
                      IptablesTools tools = {});
    ~Steering(); // remove(), errors swallowed
    Steering(Steering&& other) noexcept;
    Steering& operator=(Steering&&) = delete;
    Steering(const Steering&) = delete;
    Steering& operator=(const Steering&) = delete;

    // One atomic transaction (an nft batch or one iptables-restore commit):
    // on failure nothing was added. Throws SteeringError, e.g. when the
    // table or chains exist already (leftovers: cleanup_stale()).
    void install();
    // Removes exactly what install() added; no-op when not installed.
    // Throws SteeringError when the tool fails.
    void remove();
    // Swaps the installed rules for spec's in one transaction (no moment
    // without steering; on failure the old rules stay and SteeringError is
    // thrown). When nothing is installed it only adopts spec. Throws
    // std::invalid_argument for an invalid spec.
    void replace(SteeringSpec spec);
    // Forgets the rules without removing them (hand-over to another process).
    void abandon() noexcept { installed_ = false; }

    bool installed() const noexcept { return installed_; }
    Backend backend() const noexcept { return backend_; }
    const SteeringSpec& spec() const noexcept { return spec_; }

    // Removes leftovers of a crashed run in the calling thread's network
    // namespace: table ip svxlat, SVXLAT-* chains in table raw and the jumps
    // to them; nothing else. Returns what it removed ("" if nothing).
    static std::string cleanup_stale(const IptablesTools& tools = {});

private:
    SteeringSpec spec_;
    Backend backend_;
    IptablesTools tools_;
    bool installed_ = false;
};

} // namespace svxlat::steer

#endif // SVXLAT_STEER_STEERING_H
